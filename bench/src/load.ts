import { setTimeout as sleep } from 'node:timers/promises';
import { Samples } from './stats.js';

export const LOAD_LIMITS = {
  /** Latency samples kept per phase (far above what a 2-core box reaches in ten minutes). */
  maxSamples: 5_000_000,
  /** A client that just failed waits this long, so a dead server is not hammered in a hot loop. */
  pauseAfterErrorMs: 10,
} as const;

export type Outcome = { ok: true; ms: number; parts?: Record<string, number> } | { ok: false; kind: string };

export interface PhaseResult {
  elapsedS: number;
  ok: number;
  errors: number;
  latency: Samples;
  /** Latency of the named parts of an iteration (e.g. addToCart, checkout). */
  parts: Map<string, Samples>;
  errorKinds: Record<string, number>;
}

/**
 * A closed loop: `clients` clients each run `iteration` back to back until `durationMs` has
 * passed. An iteration started before the deadline is finished and counted; the rate divides by
 * the time until the last one ended.
 */
export async function closedLoop(clients: number, durationMs: number, iteration: (client: number) => Promise<Outcome>): Promise<PhaseResult> {
  const latency = new Samples(LOAD_LIMITS.maxSamples);
  const parts = new Map<string, Samples>();
  const errorKinds: Record<string, number> = {};
  let ok = 0;
  let errors = 0;
  const began = performance.now();
  const deadline = began + durationMs;
  const lane = async (client: number) => {
    while (performance.now() < deadline) {
      let outcome: Outcome;
      try {
        outcome = await iteration(client);
      } catch (err) {
        outcome = { ok: false, kind: `network: ${err instanceof Error ? (err as Error & { code?: string }).code ?? err.message : String(err)}` };
      }
      if (outcome.ok) {
        ok += 1;
        latency.add(outcome.ms);
        for (const [name, ms] of Object.entries(outcome.parts ?? {})) {
          let samples = parts.get(name);
          if (!samples) parts.set(name, (samples = new Samples(LOAD_LIMITS.maxSamples)));
          samples.add(ms);
        }
      } else {
        errors += 1;
        errorKinds[outcome.kind] = (errorKinds[outcome.kind] ?? 0) + 1;
        await sleep(LOAD_LIMITS.pauseAfterErrorMs);
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, client) => lane(client)));
  return { elapsedS: (performance.now() - began) / 1000, ok, errors, latency, parts, errorKinds };
}
