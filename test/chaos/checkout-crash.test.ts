import { crashLane, declinedScenarios, visaScenarios } from './checkout-crash-scenarios.js';

/**
 * The checkout saga killed before any effect and after each step's effect (every distinct moment
 * of its log; see checkout-crash-scenarios.ts), and along the compensation of a declined payment; restarted, it must end every order CONFIRMED or
 * compensated with stock and money conserved. See checkout-crash-scenarios.ts; the tok_async
 * lane is checkout-crash-async.test.ts (a separate file, so the two run in parallel).
 */
await crashLane('visa', visaScenarios);
await crashLane('declined', declinedScenarios);
