export { SimRandom } from './random.js';
export { VirtualClock, SIM_EPOCH_MS } from './clock.js';
export { SimRuntime, SIM_LIMITS, SIM_FAULT_KINDS, type SimFaultKind, type SimEndReason } from './runtime.js';
export { SimProcess, SimDatabaseFault, type SimDatabasePlan } from './process.js';
export { SimNetwork, callTimedOut, type SimNetworkPlan } from './network.js';
export { SimSagaHost, SimSagaLog, SimSagaTable, simFusedWrites, type SimFusedWrite, type SimSagaHostOptions } from './saga-host.js';
