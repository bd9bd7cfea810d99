import type { HttpApp } from './app.js';
import type { Metrics } from '../telemetry/metrics.js';

/** A named dependency check for readiness: throws (or rejects) when the dependency is down. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

const CHECK_TIMEOUT_MS = 2_000;

async function runCheck(check: ReadinessCheck): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check.check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** `/health/live`, `/health/ready` (503 naming the failing dependency) and `/metrics`. */
export function registerOperationalRoutes(app: HttpApp, checks: () => readonly ReadinessCheck[], metrics?: Metrics, isDraining: () => boolean = () => false): void {
  app.get('/health/live', { config: { operational: true } }, async () => ({ status: 'ok' }));
  app.get('/health/ready', { config: { operational: true } }, async (_request, reply) => {
    if (isDraining()) return reply.code(503).send({ status: 'draining', failing: ['shutdown'] });
    const list = checks();
    const results = await Promise.all(list.map(async (c) => ({ name: c.name, error: await runCheck(c) })));
    const failing = results.filter((r) => r.error !== undefined);
    if (failing.length > 0) {
      return reply.code(503).send({
        status: 'unavailable',
        failing: failing.map((f) => f.name),
        detail: failing.map((f) => `${f.name}: ${f.error}`).join('; '),
      });
    }
    return { status: 'ok', checks: results.map((r) => r.name) };
  });
  if (metrics) {
    app.get('/metrics', { config: { operational: true } }, async (_request, reply) => {
      reply.type(metrics.registry.contentType);
      return metrics.text();
    });
  }
}
