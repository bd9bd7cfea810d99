import { AppError } from '@agora/kernel';
import type { SimProcess } from './process.js';
import type { SimRuntime } from './runtime.js';

/** How the network between processes behaves in one run. */
export interface SimNetworkPlan {
  minLatencyMs: number;
  maxLatencyMs: number;
  /** The request never arrives: the callee never sees it; the caller times out. */
  dropRequestRate: number;
  /** The callee did the work but its answer never arrives: the caller times out. */
  dropResponseRate: number;
  /** The request arrives twice (a retransmission): the callee does the work twice; the caller hears the first answer. */
  duplicateRate: number;
  /** How long a caller waits for an answer, as the service client does. */
  callTimeoutMs: number;
}

/** What a caller sees when its call got no answer in time: 503, a transient fault, as from the service client. */
export function callTimedOut(label: string, timeoutMs: number): AppError {
  return new AppError('UNAVAILABLE', `sim: ${label} got no answer within ${timeoutMs} ms`);
}

/**
 * The network between simulated processes. A call is two messages, each with its own random
 * latency (so concurrent calls arrive reordered), either of which may be lost; a request may be
 * delivered twice. The callee's handler runs in the callee (its crash abandons it); the answer
 * reaches the caller only if it is still alive, and a caller that hears nothing in time gets a
 * transient fault — it cannot tell a lost request from a lost answer, as in life.
 */
export class SimNetwork {
  calls = 0;

  constructor(
    private readonly rt: SimRuntime,
    private readonly plan: SimNetworkPlan,
  ) {}

  call<T>(from: SimProcess, to: SimProcess, label: string, handler: () => Promise<T>): Promise<T> {
    this.calls += 1;
    if (!from.alive) return new Promise<T>(() => undefined);
    this.rt.trace(`${from.name}->${to.name} ${label}`);
    const { random } = this.rt;
    const plan = this.plan;
    return new Promise<T>((resolve, reject) => {
      let answered = false;
      const answer = (fn: () => void): void => {
        if (answered) return;
        answered = true;
        fn();
      };
      from.deliver(plan.callTimeoutMs, () => answer(() => reject(callTimedOut(`${to.name}.${label}`, plan.callTimeoutMs))));
      const dropRequest = random.chance(plan.dropRequestRate);
      const duplicate = !dropRequest && random.chance(plan.duplicateRate);
      const copies = duplicate ? 2 : 1;
      if (dropRequest) {
        this.rt.fault('drop-request', `${from.name}->${to.name} ${label}`);
        return;
      }
      if (duplicate) this.rt.fault('duplicate', `${from.name}->${to.name} ${label}`);
      for (let copy = 0; copy < copies; copy++) {
        const requestLatency = random.int(plan.minLatencyMs, plan.maxLatencyMs);
        const dropResponse = random.chance(plan.dropResponseRate);
        const responseLatency = random.int(plan.minLatencyMs, plan.maxLatencyMs);
        to.deliver(requestLatency, () => {
          void handler().then(
            (value) => this.respond(from, to, label, dropResponse, responseLatency, () => answer(() => resolve(cloneJson(value)))),
            (error: unknown) => this.respond(from, to, label, dropResponse, responseLatency, () => answer(() => reject(error))),
          );
        });
      }
    });
  }

  private respond(from: SimProcess, to: SimProcess, label: string, drop: boolean, latencyMs: number, deliver: () => void): void {
    // The callee sends its answer only if it is still alive to send it.
    if (!to.alive) return;
    if (drop) {
      this.rt.fault('drop-response', `${to.name}->${from.name} ${label}`);
      return;
    }
    from.deliver(latencyMs, deliver);
  }
}

/** What crosses the network is data, never a shared object. */
function cloneJson<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}
