import { fileURLToPath } from 'node:url';
import { ServerProcess, type NodeLauncher } from './child.js';
import { LoopbackClient } from './http.js';
import { closedLoop } from './load.js';

/** The baseline script next to this module (.ts under tsx, .js once built). */
const BASELINE_SERVER = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './baseline-server.ts' : './baseline-server.js', import.meta.url));

const BASELINE_WARMUP_MS = 1_000;

export interface BaselineResult {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  durationS: number;
  errors: number;
}

/**
 * The same run's yardstick: a bare Fastify JSON route in its own process, driven by the same
 * number of keep-alive connections and the same client as the scenario.
 */
export async function runBaseline(options: { launcher: NodeLauncher; connections: number; durationS: number }): Promise<BaselineResult> {
  const { server, port } = await ServerProcess.start('baseline server', options.launcher, BASELINE_SERVER, [], { ...process.env }, /listening on port (\d+)/);
  const http = new LoopbackClient(`http://127.0.0.1:${port}`, options.connections);
  try {
    const ping = async () => {
      const answer = await http.request('GET', '/ping');
      return answer.status === 200 ? ({ ok: true, ms: answer.ms } as const) : ({ ok: false, kind: `ping ${answer.status}` } as const);
    };
    await closedLoop(options.connections, BASELINE_WARMUP_MS, ping);
    const measured = await closedLoop(options.connections, options.durationS * 1000, ping);
    const latency = measured.latency.summary();
    return { reqPerSec: measured.ok / measured.elapsedS, p50Ms: latency.p50Ms, p99Ms: latency.p99Ms, durationS: measured.elapsedS, errors: measured.errors };
  } finally {
    await http.close();
    await server.stop();
  }
}
