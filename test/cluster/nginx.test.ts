import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoopbackClient, ReadLoad, type ReadSample } from '@agora/bench';
import { ADMIN, WEBHOOK_SECRET } from '../support/system.js';
import { nginxInstalled, spawnGroup, startNginx, type RunningNginx } from '../support/nginx.js';
import { clusterServersAvailable, sleep, startTestCluster, type TestCluster } from './support.js';

/**
 * "The nginx-fronted cluster passes the API test suite": Debian's nginx, configured from
 * deploy/nginx/agora.conf.template by `renderNginxConfig` (what `agora nginx-config` prints), in
 * front of a cluster with two gateways; then the API suites of test/api run through it, unchanged,
 * in a child vitest in external mode (AGORA_API_URL, see test/support/system.ts).
 *
 * What runs through nginx: every test of the files in API_SUITES whose name matches API_TESTS —
 * the `external` variant of the suites that loop over systemVariants, and the `postgres` one of
 * identity-catalog (which loops over storage backends). Left out: concurrency.api (300 buyers
 * would take minutes here and test/cluster/failover.test.ts rushes a cluster already), the
 * "pending asynchronous payments" suite of webhook.api (it needs the sandbox slowed to 60 s, a
 * setting of the whole cluster), and start.e2e (it starts `agora start` itself).
 */

const VITEST = fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * In two runs: orders.api first, alone, while the cluster's database is still empty — its admin
 * listing expects to see the orders of its own two shoppers and nobody else's, as it does on the
 * fresh database each suite gets when it starts its own system.
 */
const API_RUNS: readonly (readonly string[])[] = [
  ['test/api/orders.api.test.ts'],
  ['test/api/identity-catalog.api.test.ts', 'test/api/checkout.api.test.ts', 'test/api/cart.api.test.ts', 'test/api/webhook.api.test.ts'],
];
const API_SUITES = API_RUNS.flat();
const API_TESTS = 'API on (postgres|external) ';
/** The child run's bound; it is killed (with its whole process group) past it. */
const SUITE_TIMEOUT_MS = 15 * 60_000;

const SERVICES = { identity: 1, catalog: 1, inventory: 1, cart: 1, payment: 1, order: 1 } as const;


interface VitestReport {
  numTotalTests: number;
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  testResults: { name: string; assertionResults: { fullName: string; status: string; failureMessages: string[] }[] }[];
}

describe.runIf(nginxInstalled() && (await clusterServersAvailable()))('nginx in front of a cluster with two gateways', () => {
  let tc: TestCluster;
  let dir: string;
  let nginx: RunningNginx;
  let edge: string;

  beforeAll(async () => {
    tc = await startTestCluster({
      gateways: 2,
      services: SERVICES,
      admin: ADMIN,
      env: { AGORA_PAYMENT_WEBHOOK_SECRET: WEBHOOK_SECRET, AGORA_TRUST_PROXY: 'on' },
    });
    nginx = await startNginx(tc.cluster.gatewayUrls);
    edge = nginx.url;
    dir = nginx.dir;
  }, 420_000);

  afterAll(async () => {
    await nginx?.stop();
    await tc?.stop();
  }, 120_000);

  it('passes the API suites run through it, unchanged', async () => {
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('VITEST')) env[key] = value;
    Object.assign(env, { AGORA_API_URL: edge, AGORA_API_DATABASE_URL: tc.databaseUrl, AGORA_API_ENV: JSON.stringify(tc.env) });
    const deadline = Date.now() + SUITE_TIMEOUT_MS;
    const ran: { file: string; fullName: string; status: string; failureMessages: string[] }[] = [];
    for (const [i, suites] of API_RUNS.entries()) {
      const reportFile = join(dir, `vitest-${i}.json`);
      const run = spawnGroup(
        process.execPath,
        [VITEST, 'run', ...suites, '--testNamePattern', API_TESTS, '--no-file-parallelism', '--maxWorkers=1', '--reporter=dot', '--reporter=json', `--outputFile.json=${reportFile}`],
        env,
        ROOT,
      );
      const exit = await Promise.race([run.exited, sleep(Math.max(0, deadline - Date.now())).then(() => undefined)]);
      if (!exit) run.kill('SIGKILL');
      const output = run.output();
      expect(exit, `the API suites did not finish within ${SUITE_TIMEOUT_MS / 60_000} min:\n${output}`).toBeDefined();
      expect(existsSync(reportFile), output).toBe(true);
      const report = JSON.parse(readFileSync(reportFile, 'utf8')) as VitestReport;
      const results = report.testResults.flatMap((file) => file.assertionResults.filter((t) => t.status !== 'skipped' && t.status !== 'pending').map((t) => ({ file: file.name.replace(ROOT, ''), ...t })));
      ran.push(...results);
      expect(results.filter((t) => t.status !== 'passed').map((t) => `${t.file} › ${t.fullName}\n${t.failureMessages.join('\n').slice(0, 2_000)}`)).toEqual([]);
      expect(exit?.code, output.slice(-5_000)).toBe(0);
    }
    const perFile: Record<string, number> = {};
    for (const t of ran) perFile[t.file] = (perFile[t.file] ?? 0) + 1;
    console.info(`[nginx] ${ran.length} API tests ran through ${edge}: ${JSON.stringify(perFile)}`);
    // Every suite ran something: a renamed describe must not silently drop out of the filter.
    for (const suite of API_SUITES) expect(perFile[suite] ?? 0, `${suite} ran no test through nginx`).toBeGreaterThan(0);
  }, SUITE_TIMEOUT_MS + 60_000);

  it('spreads requests over both gateways and keeps serving reads when one gateway is killed', async () => {
    const http = new LoopbackClient(edge, 8);
    try {
      const served = async () => Promise.all(tc.cluster.gatewayUrls.map(async (url) => requestCount(await (await fetch(`${url}/metrics`)).text())));
      const product = await http.request('POST', '/api/v1/admin/products', {
        token: tc.cluster.adminToken,
        parse: true,
        body: { name: 'Edge', description: 'through nginx', category: 'edge', variants: [{ sku: `EDGE-${Date.now()}`, title: 'One', price: { amount: 100, currency: 'USD' } }] },
      });
      expect(product.status).toBe(201);
      const productIds = [(product.body as { id: string }).id];

      const before = await served();
      const load = new ReadLoad({ http, productIds, clients: 8, listLimit: 5, maxMs: 60_000, maxRequests: 20_000 }).start();
      let samples: ReadSample[] = [];
      try {
        while (load.count < 200) await sleep(20);
        const after = await served();
        // least_conn over two gateways: both took a share.
        after.forEach((count, g) => expect(count, `gateway-${g + 1} served nothing through nginx`).toBeGreaterThan((before[g] ?? 0) + 10));
        const countAtKill = load.count;
        tc.cluster.kill('gateway-2', 'SIGKILL');
        while (load.count < countAtKill + 300) await sleep(20);
        samples = await load.stop();
      } finally {
        if (samples.length === 0) samples = await load.stop();
      }
      // Reads in flight on the killed gateway and the ones sent to it next are retried by nginx on the other.
      expect(samples.filter((s) => !s.ok).map((s) => s.kind)).toEqual([]);
    } finally {
      await http.close();
    }
  }, 180_000);
});

/** Requests a gateway has answered, from its Prometheus text (agora_http_request_duration_seconds_count). */
function requestCount(metrics: string): number {
  let total = 0;
  for (const line of metrics.split('\n')) if (line.startsWith('agora_http_request_duration_seconds_count')) total += Number(line.split(' ').at(-1) ?? 0);
  return total;
}
