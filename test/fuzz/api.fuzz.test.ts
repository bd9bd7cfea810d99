import http from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALLER_ASSERTION_HEADER, CallerAssertionSigner } from '@agora/platform';
import { mapLimit } from '../support/shop.js';
import { forgedTokens } from './tokens.js';
import { TEST_JWT_SECRET, fuzzSeed, openWorld, postgresVariant, type FuzzWorld } from './fixture.js';
import { WRITES, caseFor, prepared, refused, routesOfTree, serviceCase, strayCase, type Credentials, type FuzzCase } from './requests.js';
import type { ValuePool } from './openapi.js';
import { answerFault, send, type WireAnswer, type WireRequest } from './wire.js';
import { SERVICE_NAMES } from '@agora/contracts';

/**
 * A property-based fuzzer generated from the published OpenAPI document, against the whole system
 * on PostgreSQL over real HTTP: every operation (and paths none declares) gets wrong types, huge and
 * odd strings, edge numbers, malformed JSON, bad content types, odd headers, injection strings and
 * valid, forged and missing tokens. It holds that no answer is a 5xx, every 4xx is problem+json
 * with a `code` and an `x-request-id`, a batch of requests that were all refused leaves the state
 * digest (test/fuzz/fixture.ts) as it was, and the process keeps answering.
 *
 * The seed is printed; AGORA_FUZZ_SEED=<n> replays a run, AGORA_FUZZ_SEED=random draws a new one,
 * AGORA_FUZZ_REQUESTS=<n> runs longer locally.
 */

/** Requests against the gateway per run (CI): at least 10,000 across every route. */
export const GATEWAY_REQUESTS = Number(process.env.AGORA_FUZZ_REQUESTS ?? 10_000);
/** Requests straight to each fuzzed service port (its own Fastify app, listening). */
export const SERVICE_REQUESTS = Number(process.env.AGORA_FUZZ_SERVICE_REQUESTS ?? 500);
/** Of the requests to a service port, at least this share gets past its guard (most carry a valid assertion). */
const PAST_GUARD_MIN_SHARE = 0.3;
/** The services whose ports are fuzzed directly: all of them (a test below fails when the system has one more). */
const FUZZED_SERVICES = SERVICE_NAMES;
/** Requests sent together between two state digests. */
const BATCH = 32;
/** Requests in flight at once. */
const IN_FLIGHT = 16;
/** Of the batches, at least this share must be all refusals, so the state check is known to have run. */
const COMPARED_BATCHES_MIN_SHARE = 0.2;
/** Faults listed in a failure message (all are counted). */
const FAULTS_SHOWN = 15;
/** The slowest requests printed after a run, to see where its time goes. */
const SLOWEST_SHOWN = 5;
/** The longest the gateway run may take before it is interrupted (the aim is about a minute; 142 s seen with the machine's two cores shared many ways). */
const RUN_TIMEOUT_MS = 300_000;

/** The system's secret for caller assertions, so the service-port fuzz can send valid ones and get past the guard. */
const INTERNAL_SECRET = 'fuzz-internal-secret-fuzz-internal-secret-0123456789';
const assertions = new CallerAssertionSigner(INTERNAL_SECRET);
const forgedAssertions = new CallerAssertionSigner('not-the-internal-secret-not-the-internal-secret-00');

/** The request with the caller assertion it asks for, signed now (an assertion lives a minute). */
async function asserted(service: string, fuzz: FuzzCase, userId: string): Promise<WireRequest> {
  if (fuzz.assertAs === undefined) return fuzz.request;
  const caller = fuzz.assertAs === 'service' ? undefined : { userId, role: fuzz.assertAs === 'admin' ? ('admin' as const) : ('customer' as const) };
  const signer = fuzz.assertAs === 'forged' ? forgedAssertions : assertions;
  return { ...fuzz.request, headers: { ...fuzz.request.headers, [CALLER_ASSERTION_HEADER]: await signer.assertion('gateway', service, caller) } };
}

/** How long a checkout answered 202 may take to settle in the background. */
const ACCEPTED_SETTLE_MS = 15_000;

/** The state digest once two readings a moment apart agree (bounded by ACCEPTED_SETTLE_MS). */
async function settled(world: FuzzWorld): Promise<string> {
  const deadline = Date.now() + ACCEPTED_SETTLE_MS;
  let last = await world.digest();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = await world.digest();
    if (now === last || Date.now() > deadline) return now;
    last = now;
  }
}

interface Fault {
  index: number;
  fuzz: FuzzCase;
  problem: string;
}

function describeCase(fuzz: FuzzCase): string {
  const { method, path, headers, body } = fuzz.request;
  const shownBody = body === undefined ? '' : ` body(${body.length}): ${(typeof body === 'string' ? body : body.toString('hex')).slice(0, 160)}`;
  const shownHeaders = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v.length > 60 ? `${v.slice(0, 60)}…(${v.length})` : v}`)
    .join('; ');
  return `[${fuzz.target}] ${method} ${path.length > 160 ? `${path.slice(0, 160)}…` : path} {${shownHeaders}}${fuzz.sign ? ` signed:${fuzz.sign}` : ''}${shownBody}`;
}

function report(faults: Fault[], seed: number): string {
  const byProblem = new Map<string, number>();
  for (const f of faults) byProblem.set(f.problem.slice(0, 80), (byProblem.get(f.problem.slice(0, 80)) ?? 0) + 1);
  return [
    `${faults.length} faults (replay with AGORA_FUZZ_SEED=${seed})`,
    ...[...byProblem].map(([p, n]) => `  ${n} × ${p}`),
    ...faults.slice(0, FAULTS_SHOWN).map((f) => `#${f.index} ${describeCase(f.fuzz)}\n    → ${f.problem}`),
  ].join('\n');
}

describe.runIf(await postgresVariant.available())('OpenAPI fuzz of the gateway on PostgreSQL', () => {
  let world: FuzzWorld;
  let credentials: Credentials;
  let pool: ValuePool;
  beforeAll(async () => {
    world = await openWorld(postgresVariant, { AGORA_INTERNAL_SECRET: INTERNAL_SECRET });
    const { customer, other, shop } = world;
    const forged = await forgedTokens(TEST_JWT_SECRET, { sub: customer.id, role: 'customer', email: customer.email }, customer.token);
    credentials = { valid: [customer.token, other.token, shop.adminToken], forged: Object.values(forged) };
    pool = {
      id: [world.productId, world.otherOrder.id, '00000000-0000-0000-0000-000000000000'],
      sku: [...world.skus, 'NO-SUCH-SKU'],
      email: [customer.email, 'nobody@example.com'],
      password: ['correct horse battery', 'wrong-password'],
      // Card tokens that settle inside the request: tok_async would change the state later, in the middle of another batch.
      token: ['tok_visa', 'tok_declined', 'tok_insufficient_funds', 'tok_error', 'tok_capture_fails'],
      country: ['US', 'DE'],
      currency: ['USD'],
      category: ['fuzz', 'test'],
      quantity: [1, 2],
      onHand: [1_000_000],
      paymentId: [world.otherOrder.id],
    };
  });
  afterAll(async () => world?.shop.stop());

  it(
    `${GATEWAY_REQUESTS} hostile requests: no 5xx, every 4xx problem+json with a code and a request id, refusals change nothing`,
    async () => {
      const seed = fuzzSeed('gateway');
      const started = Date.now();
      const cpuAtStart = process.cpuUsage();
      const arbitrary = fc.oneof(
        ...world.operations.map((op) => ({ weight: 1, arbitrary: caseFor(op, pool, credentials) })),
        { weight: 1, arbitrary: strayCase(credentials) },
      );
      const cases = fc.sample(arbitrary, { seed, numRuns: GATEWAY_REQUESTS });
      const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
      const faults: Fault[] = [];
      const statuses = new Map<number, number>();
      const perTarget = new Map<string, number>();
      const slowest: { ms: number; what: string }[] = [];
      let compared = 0;
      let batches = 0;
      let digest = await world.digest();
      try {
        for (let start = 0; start < cases.length; start += BATCH) {
          const batch = cases.slice(start, start + BATCH);
          batches += 1;
          const answers = await mapLimit(batch, IN_FLIGHT, async (fuzz, i): Promise<WireAnswer | undefined> => {
            const sentAt = Date.now();
            try {
              const answer = await send(world.api.baseUrl, agent, prepared(fuzz));
              slowest.push({ ms: Date.now() - sentAt, what: `${answer.status} ${describeCase(fuzz).slice(0, 200)}` });
              slowest.sort((a, b) => b.ms - a.ms).splice(SLOWEST_SHOWN);
              return answer;
            } catch (err) {
              faults.push({ index: start + i, fuzz, problem: `no answer: ${(err as Error).message}` });
              return undefined;
            }
          });
          let refusedOnly = true;
          answers.forEach((answer, i) => {
            const fuzz = batch[i] as FuzzCase;
            perTarget.set(fuzz.target, (perTarget.get(fuzz.target) ?? 0) + 1);
            if (!answer) {
              if (WRITES.has(fuzz.request.method)) refusedOnly = false;
              return;
            }
            statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
            const problem = answerFault(fuzz.request.method, answer);
            if (problem) faults.push({ index: start + i, fuzz, problem });
            if (WRITES.has(fuzz.request.method) && !refused(answer.status, answer.text)) refusedOnly = false;
          });
          const after = await world.digest();
          if (refusedOnly) {
            compared += 1;
            if (after !== digest) {
              faults.push({ index: start, fuzz: batch[0] as FuzzCase, problem: `the state changed in a batch whose writes were all refused (requests #${start}..#${start + batch.length - 1})` });
            }
          }
          // A 202 goes on in the background (a checkout past its answer bound): wait until the state settles.
          digest = answers.some((answer) => answer?.status === 202) ? await settled(world) : after;
        }
      } finally {
        agent.destroy();
      }

      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const cpu = process.cpuUsage(cpuAtStart);
      const cpuSeconds = ((cpu.user + cpu.system) / 1e6).toFixed(1);
      console.info(
        `gateway fuzz: ${cases.length} requests in ${seconds} s (${cpuSeconds} s CPU in this process, client and server), ${compared}/${batches} batches compared; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`,
      );
      console.info(`slowest:\n${slowest.map((s) => `  ${s.ms} ms ${s.what}`).join('\n')}`);
      expect(faults.length, report(faults, seed)).toBe(0);
      // Every operation of the document was fuzzed, many times.
      for (const op of world.operations) expect(perTarget.get(op.id) ?? 0, op.id).toBeGreaterThanOrEqual(Math.floor(GATEWAY_REQUESTS / (world.operations.length * 4)));
      expect(compared, 'batches whose writes were all refused (the state check)').toBeGreaterThanOrEqual(Math.floor(batches * COMPARED_BATCHES_MIN_SHARE));
      // The process is up and answers, and no `__proto__` in a body reached Object.prototype.
      expect((await world.api.get('/health/live')).status).toBe(200);
      expect(Object.keys(Object.prototype)).toEqual([]);
      expect(({} as Record<string, unknown>).role).toBeUndefined();
    },
    RUN_TIMEOUT_MS,
  );

  it('every service of the system has its port fuzzed', () => {
    expect(world.shop.system.agora.services.map((s) => s.name).sort()).toEqual([...FUZZED_SERVICES].sort());
  });

  for (const name of FUZZED_SERVICES) {
    it(
      `${SERVICE_REQUESTS} hostile requests to the ${name} service's own port: no 5xx, every 4xx problem+json with a code and a request id`,
      async () => {
        // Signed-in or not (service ports may require a signed internal assertion: then these are 401s), never a 5xx.
        const seed = fuzzSeed(`${name} port`);
        const service = world.shop.system.agora.services.find((s) => s.name === name);
        if (!service) throw new Error(`no ${name} service in the system`);
        await service.app.listen({ port: 0, host: '127.0.0.1' });
        const address = service.app.server.address();
        if (typeof address !== 'object' || address === null) throw new Error(`${name} is not listening`);
        const baseUrl = `http://127.0.0.1:${address.port}`;
        const routes = routesOfTree(service.app.printRoutes({ commonPrefix: false }));
        expect(routes.length, `routes of ${name}`).toBeGreaterThan(2);
        const callerIds = [world.customer.id, world.other.id, 'not-a-uuid'];
        const cases = fc.sample(fc.oneof(...routes.map((route) => serviceCase(name, route, pool, callerIds))), { seed, numRuns: SERVICE_REQUESTS });
        const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
        const faults: Fault[] = [];
        const statuses = new Map<number, number>();
        try {
          await mapLimit(cases, IN_FLIGHT, async (fuzz, index) => {
            try {
              const answer = await send(baseUrl, agent, await asserted(name, fuzz, world.customer.id));
              statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
              const problem = answerFault(fuzz.request.method, answer);
              if (problem) faults.push({ index, fuzz, problem });
            } catch (err) {
              faults.push({ index, fuzz, problem: `no answer: ${(err as Error).message}` });
            }
          });
        } finally {
          agent.destroy();
        }
        console.info(`${name} port fuzz: ${cases.length} requests over ${routes.length} routes; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`);
        expect(faults.length, report(faults, seed)).toBe(0);
        // Most requests carry a valid assertion: that many got past the guard into the routes.
        const past = [...statuses].filter(([status]) => status !== 401).reduce((sum, [, n]) => sum + n, 0);
        expect(past, 'requests the guard let through').toBeGreaterThanOrEqual(cases.length * PAST_GUARD_MIN_SHARE);
        // Still up: an unknown path is a 4xx problem (404, or 401 where the port wants a signed caller first).
        const after = await send(baseUrl, new http.Agent(), { method: 'GET', path: '/nothing-here', headers: {} });
        expect(after.status).toBeGreaterThanOrEqual(400);
        expect(answerFault('GET', after)).toBeUndefined();
      },
      RUN_TIMEOUT_MS,
    );
  }
});
