import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnvReader, ManualClock, newId } from '@agora/kernel';
import { InProcessTransport, Metrics, TokenService, createLogger, type Caller, type HttpApp, type RunningService, type Storage, InMemoryEventBus } from '@agora/platform';
import { guardForTests, injectAs, testBackends, type AssertedInjectOptions } from '@agora/platform/testing';
import { ReservationSweeper, inventoryModule, inventoryTotals, inventoryViolations } from '../src/index.js';

const ADMIN: Caller = { userId: '01900000-0000-7000-8000-000000000001', role: 'admin' };

interface ReservationBody {
  reservationId: string;
  status: string;
  expiresAt: string;
  lines: { sku: string; quantity: number }[];
}
interface ProblemBody {
  code: string;
  status: number;
  errors?: { path: string; message: string }[];
  skus?: string[];
}

let skuCounter = 0;
/** A fresh SKU per test: the suite shares one database per backend. */
const freshSku = (tag: string): string => `R-${tag}-${++skuCounter}-${Date.now().toString(36)}`;

for (const backend of testBackends) {
  describe.runIf(await backend.available())(`inventory reservations on ${backend.kind}`, () => {
    let service: RunningService;
    let app: HttpApp;
    /** A request as the gateway or the order service sends it: with a caller assertion (for `caller`, if any). */
    const send = (options: AssertedInjectOptions) => injectAs(app, 'inventory', options);
    let storage: Storage;
    let release: () => Promise<void>;
    const clock = new ManualClock();
    const logger = createLogger('inventory', 'silent');

    beforeAll(async () => {
      const opened = await backend.open();
      storage = opened.storage;
      release = opened.release;
      await storage.migrate('inventory', inventoryModule.migrationsFolder ?? '');
      service = await inventoryModule.create({
        storage,
        logger,
        metrics: new Metrics(false),
        clock,
        env: new EnvReader({}),
        transport: new InProcessTransport(),
        tokens: new TokenService('x'.repeat(32)),
        bus: new InMemoryEventBus({ logger: createLogger('bus', 'silent') }),
      });
      app = service.app;
      guardForTests(app, 'inventory');
    });
    afterAll(async () => {
      await service.stop();
      await release();
    });

    const setStock = async (sku: string, onHand: number): Promise<void> => {
      const res = await send({ method: 'PUT', url: `/inventory/${sku}`, caller: ADMIN, payload: { onHand } });
      expect(res.statusCode).toBe(200);
    };
    const level = async (sku: string): Promise<{ onHand: number; reserved: number; available: number }> =>
      (await send({ method: 'GET', url: `/inventory/${sku}/level`, caller: ADMIN })).json();
    const reserve = (reservationId: string, lines: { sku: string; quantity: number }[], ttlSeconds = 600) =>
      send({ method: 'POST', url: '/reservations', payload: { reservationId, lines, ttlSeconds } });
    const act = (id: string, action: 'commit' | 'release' | 'restock') => send({ method: 'POST', url: `/reservations/${id}/${action}` });
    const statusOf = async (id: string): Promise<string> => ((await send({ method: 'GET', url: `/reservations/${id}` })).json() as ReservationBody).status;
    const expectInvariants = async (): Promise<void> => {
      const totals = await inventoryTotals(storage);
      expect(inventoryViolations(totals)).toEqual([]);
    };

    it('holds stock once per reservation id: a replay answers the same body with 200', async () => {
      const [a, b] = [freshSku('a'), freshSku('b')];
      await setStock(a, 10);
      await setStock(b, 10);
      const id = newId();
      const first = await reserve(id, [{ sku: b, quantity: 2 }, { sku: a, quantity: 3 }], 120);
      expect(first.statusCode).toBe(201);
      const body = first.json() as ReservationBody;
      expect(body).toEqual({
        reservationId: id,
        status: 'HELD',
        expiresAt: new Date(clock.now().getTime() + 120_000).toISOString(),
        lines: [{ sku: a, quantity: 3 }, { sku: b, quantity: 2 }],
      });
      const replay = await reserve(id, [{ sku: a, quantity: 3 }, { sku: b, quantity: 2 }], 120);
      expect(replay.statusCode).toBe(200);
      expect(replay.json()).toEqual(body);
      expect(await level(a)).toMatchObject({ onHand: 10, reserved: 3, available: 7 });
      expect(await level(b)).toMatchObject({ onHand: 10, reserved: 2, available: 8 });
      expect((await send({ method: 'GET', url: `/reservations/${id}` })).json()).toEqual(body);

      const other = await reserve(id, [{ sku: a, quantity: 4 }]);
      expect(other.statusCode).toBe(422);
      expect((other.json() as ProblemBody).code).toBe('IDEMPOTENCY_MISMATCH');
      expect(await level(a)).toMatchObject({ reserved: 3 });
      await expectInvariants();
    });

    it('is all or nothing: a short line (or an unknown SKU) holds nothing and names every short line', async () => {
      const [a, b, c] = [freshSku('a'), freshSku('b'), freshSku('c')];
      await setStock(a, 5);
      await setStock(b, 1);
      await setStock(c, 0);
      const unknown = freshSku('unknown');
      const res = await reserve(newId(), [
        { sku: a, quantity: 2 },
        { sku: b, quantity: 2 },
        { sku: unknown, quantity: 1 },
        { sku: c, quantity: 1 },
      ]);
      expect(res.statusCode).toBe(409);
      const problem = res.json() as ProblemBody;
      expect(problem.code).toBe('OUT_OF_STOCK');
      expect(problem.errors?.map((e) => e.path).sort()).toEqual(['lines[1].sku', 'lines[2].sku', 'lines[3].sku']);
      expect([...(problem.skus ?? [])].sort()).toEqual([b, c, unknown].sort());
      expect(await level(a)).toMatchObject({ reserved: 0, available: 5 });
      expect(await level(b)).toMatchObject({ reserved: 0, available: 1 });

      const onlyUnknown = await reserve(newId(), [{ sku: a, quantity: 1 }, { sku: unknown, quantity: 1 }]);
      expect(onlyUnknown.statusCode).toBe(409);
      expect((onlyUnknown.json() as ProblemBody).errors).toEqual([{ path: 'lines[1].sku', message: expect.any(String) }]);
      expect(await level(a)).toMatchObject({ reserved: 0 });

      // An id refused for stock was never stored: the saga may retry it once stock arrives.
      const id = newId();
      expect((await reserve(id, [{ sku: b, quantity: 2 }])).statusCode).toBe(409);
      await setStock(b, 2);
      expect((await reserve(id, [{ sku: b, quantity: 2 }])).statusCode).toBe(201);
      await expectInvariants();
    });

    it('rejects malformed bodies naming the field', async () => {
      const sku = freshSku('v');
      const cases: [unknown, string][] = [
        [{ reservationId: newId(), lines: [{ sku, quantity: 0 }], ttlSeconds: 60 }, 'lines[0].quantity'],
        [{ reservationId: newId(), lines: [{ sku, quantity: 1.5 }], ttlSeconds: 60 }, 'lines[0].quantity'],
        [{ reservationId: newId(), lines: [{ sku, quantity: '3' }], ttlSeconds: 60 }, 'lines[0].quantity'],
        [{ reservationId: 'not-a-uuid', lines: [{ sku, quantity: 1 }], ttlSeconds: 60 }, 'reservationId'],
        [{ reservationId: newId(), lines: [], ttlSeconds: 60 }, 'lines'],
        [{ reservationId: newId(), lines: [{ sku, quantity: 1 }], ttlSeconds: 0 }, 'ttlSeconds'],
        [{ reservationId: newId(), lines: [{ sku, quantity: 1 }, { sku, quantity: 2 }], ttlSeconds: 60 }, 'lines[1].sku'],
      ];
      for (const [payload, path] of cases) {
        const res = await send({ method: 'POST', url: '/reservations', payload: payload as object });
        expect(res.statusCode, JSON.stringify(payload)).toBe(400);
        expect((res.json() as ProblemBody).errors?.map((e) => e.path)).toContain(path);
      }
      expect((await send({ method: 'POST', url: '/reservations/nope/commit' })).statusCode).toBe(400);
    });

    it('commits, restocks, and answers replays as no-ops and wrong moves as 409', async () => {
      const sku = freshSku('c');
      await setStock(sku, 10);
      const id = newId();
      expect((await reserve(id, [{ sku, quantity: 4 }])).statusCode).toBe(201);

      const commit = await act(id, 'commit');
      expect(commit.statusCode).toBe(200);
      expect((commit.json() as ReservationBody).status).toBe('COMMITTED');
      expect(await level(sku)).toMatchObject({ onHand: 6, reserved: 0, available: 6 });
      expect((await act(id, 'commit')).statusCode).toBe(200);
      expect(await level(sku)).toMatchObject({ onHand: 6, reserved: 0 });

      const releaseCommitted = await act(id, 'release');
      expect(releaseCommitted.statusCode).toBe(409);
      expect((releaseCommitted.json() as ProblemBody).code).toBe('CONFLICT');
      expect((await reserve(id, [{ sku, quantity: 4 }])).statusCode).toBe(200);
      expect(await level(sku)).toMatchObject({ onHand: 6, reserved: 0 });

      const restock = await act(id, 'restock');
      expect(restock.statusCode).toBe(200);
      expect((restock.json() as ReservationBody).status).toBe('RESTOCKED');
      expect(await level(sku)).toMatchObject({ onHand: 10, reserved: 0 });
      expect((await act(id, 'restock')).statusCode).toBe(200);
      expect(await level(sku)).toMatchObject({ onHand: 10 });
      expect((await act(id, 'commit')).statusCode).toBe(409);
      expect((await act(id, 'release')).statusCode).toBe(409);
      await expectInvariants();
    });

    it('releases, and refuses to commit, restock or re-reserve what was released', async () => {
      const sku = freshSku('r');
      await setStock(sku, 3);
      const id = newId();
      expect((await reserve(id, [{ sku, quantity: 3 }])).statusCode).toBe(201);
      expect((await act(id, 'restock')).statusCode).toBe(409);
      const released = await act(id, 'release');
      expect(released.statusCode).toBe(200);
      expect((released.json() as ReservationBody).status).toBe('RELEASED');
      expect(await level(sku)).toMatchObject({ onHand: 3, reserved: 0 });
      expect((await act(id, 'release')).statusCode).toBe(200);
      expect(await level(sku)).toMatchObject({ reserved: 0 });
      expect((await act(id, 'commit')).statusCode).toBe(409);
      expect((await act(id, 'restock')).statusCode).toBe(409);
      const again = await reserve(id, [{ sku, quantity: 3 }]);
      expect(again.statusCode).toBe(409);
      expect(again.json()).toMatchObject({ code: 'CONFLICT', status: 409, reservationId: id });
      expect(await level(sku)).toMatchObject({ onHand: 3, reserved: 0 });
      await expectInvariants();
    });

    it('404s an unknown id, except release, which records it so a late reserve is refused', async () => {
      const id = newId();
      expect((await send({ method: 'GET', url: `/reservations/${id}` })).statusCode).toBe(404);
      expect((await act(id, 'commit')).statusCode).toBe(404);
      expect((await act(id, 'restock')).statusCode).toBe(404);
      const released = await act(id, 'release');
      expect(released.statusCode).toBe(200);
      expect(released.json()).toMatchObject({ reservationId: id, status: 'RELEASED', lines: [] });
      const sku = freshSku('late');
      await setStock(sku, 1);
      expect((await reserve(id, [{ sku, quantity: 1 }])).statusCode).toBe(409);
      expect(await level(sku)).toMatchObject({ reserved: 0 });
    });

    it('sweeps expired reservations by the clock, and an expired one cannot be committed', async () => {
      const sku = freshSku('exp');
      await setStock(sku, 5);
      const sweeper = new ReservationSweeper({ storage, clock, logger });
      const id = newId();
      expect((await reserve(id, [{ sku, quantity: 2 }], 60)).statusCode).toBe(201);
      const keep = newId();
      expect((await reserve(keep, [{ sku, quantity: 1 }], 600)).statusCode).toBe(201);
      // Earlier tests' reservations may expire too; what matters is which of ours did.
      expect(await sweeper.sweepOnce()).not.toContain(id);
      clock.advance(61_000);
      const swept = await sweeper.sweepOnce();
      expect(swept).toContain(id);
      expect(swept).not.toContain(keep);
      expect(await statusOf(id)).toBe('EXPIRED');
      expect(await statusOf(keep)).toBe('HELD');
      expect(await level(sku)).toMatchObject({ onHand: 5, reserved: 1 });
      expect(await sweeper.sweepOnce()).not.toContain(id);

      const commit = await act(id, 'commit');
      expect(commit.statusCode).toBe(409);
      expect(commit.json()).toMatchObject({ code: 'CONFLICT', status: 409 });
      expect(await level(sku)).toMatchObject({ onHand: 5, reserved: 1 });
      const releaseExpired = await act(id, 'release');
      expect(releaseExpired.statusCode).toBe(200);
      expect((releaseExpired.json() as ReservationBody).status).toBe('EXPIRED');
      expect((await reserve(id, [{ sku, quantity: 2 }])).statusCode).toBe(409);
      expect(await level(sku)).toMatchObject({ onHand: 5, reserved: 1 });
      await expectInvariants();
    });

    it('300 concurrent single-unit reservations of 40 units: exactly 40 held, 260 out of stock, no 5xx', async () => {
      const sku = freshSku('hot');
      await setStock(sku, 40);
      const results = await Promise.all(Array.from({ length: 300 }, () => reserve(newId(), [{ sku, quantity: 1 }])));
      const codes = results.map((r) => r.statusCode);
      expect(codes.filter((c) => c >= 500)).toEqual([]);
      expect(codes.filter((c) => c === 201)).toHaveLength(40);
      const refused = results.filter((r) => r.statusCode === 409);
      expect(refused).toHaveLength(260);
      expect(refused.every((r) => (r.json() as ProblemBody).code === 'OUT_OF_STOCK')).toBe(true);
      expect(await level(sku)).toEqual({ sku, onHand: 40, reserved: 40, available: 0 });
      await expectInvariants();
    });

    it('100 concurrent reservations of 100 units all succeed: nobody is refused while stock remains', async () => {
      const sku = freshSku('exact');
      await setStock(sku, 100);
      const results = await Promise.all(Array.from({ length: 100 }, () => reserve(newId(), [{ sku, quantity: 1 }])));
      expect(results.map((r) => r.statusCode).filter((c) => c !== 201)).toEqual([]);
      expect(await level(sku)).toMatchObject({ onHand: 100, reserved: 100, available: 0 });
      await expectInvariants();
    });

    it('concurrent multi-line reservations naming SKUs in opposite orders do not deadlock', async () => {
      const [x, y, z] = [freshSku('x'), freshSku('y'), freshSku('z')];
      await setStock(x, 1000);
      await setStock(y, 1000);
      await setStock(z, 1000);
      const orders = [
        [x, y, z],
        [z, y, x],
        [y, x, z],
        [z, x, y],
      ];
      const results = await Promise.all(
        Array.from({ length: 80 }, (_, i) => reserve(newId(), (orders[i % orders.length] ?? []).map((sku) => ({ sku, quantity: 1 })))),
      );
      expect(results.map((r) => r.statusCode).filter((c) => c !== 201)).toEqual([]);
      for (const sku of [x, y, z]) expect(await level(sku)).toMatchObject({ reserved: 80 });
      await expectInvariants();
    });

    it('concurrent reserves of one id hold stock once', async () => {
      const sku = freshSku('same');
      await setStock(sku, 50);
      const id = newId();
      const results = await Promise.all(Array.from({ length: 20 }, () => reserve(id, [{ sku, quantity: 2 }])));
      const codes = results.map((r) => r.statusCode).sort();
      expect(codes.filter((c) => c === 201)).toHaveLength(1);
      expect(codes.filter((c) => c === 200)).toHaveLength(19);
      expect(await level(sku)).toMatchObject({ reserved: 2 });
      await expectInvariants();
    });

    it('concurrent commit and release of one reservation apply exactly one transition', async () => {
      const sku = freshSku('race');
      await setStock(sku, 100);
      const ids = Array.from({ length: 20 }, () => newId());
      for (const id of ids) expect((await reserve(id, [{ sku, quantity: 1 }])).statusCode).toBe(201);
      const outcomes = await Promise.all(ids.map(async (id) => Promise.all([act(id, 'commit'), act(id, 'release')])));
      let committed = 0;
      for (const [i, [commit, rel]] of outcomes.entries()) {
        const status = await statusOf(ids[i] ?? '');
        // Exactly one of the two moved the reservation; the other saw the result and answered 409.
        if (status === 'COMMITTED') {
          committed++;
          expect([commit.statusCode, rel.statusCode]).toEqual([200, 409]);
        } else {
          expect(status).toBe('RELEASED');
          expect([commit.statusCode, rel.statusCode]).toEqual([409, 200]);
        }
      }
      expect(await level(sku)).toMatchObject({ onHand: 100 - committed, reserved: 0 });
      await expectInvariants();
    });

    it('two sweepers racing expire each reservation exactly once', async () => {
      const sku = freshSku('sweep');
      await setStock(sku, 200);
      const ids = Array.from({ length: 60 }, () => newId());
      await Promise.all(ids.map((id) => reserve(id, [{ sku, quantity: 2 }], 30)));
      expect(await level(sku)).toMatchObject({ reserved: 120 });
      clock.advance(31_000);
      const sweepers = [new ReservationSweeper({ storage, clock, logger, batchSize: 7 }), new ReservationSweeper({ storage, clock, logger, batchSize: 7 })];
      const drain = async (sweeper: ReservationSweeper): Promise<string[]> => {
        const all: string[] = [];
        for (;;) {
          const batch = await sweeper.sweepOnce();
          if (batch.length === 0) return all;
          all.push(...batch);
        }
      };
      const [first, second] = await Promise.all(sweepers.map(drain));
      const ours = new Set(ids);
      const mine = (list: string[] | undefined): string[] => (list ?? []).filter((id) => ours.has(id));
      const both = [...mine(first), ...mine(second)];
      expect(both).toHaveLength(60);
      expect(new Set(both).size).toBe(60);
      expect(await level(sku)).toMatchObject({ onHand: 200, reserved: 0 });
      await expectInvariants();
    });

    it('a commit racing the sweeper: each reservation ends committed or expired, stock moved once', async () => {
      const sku = freshSku('cvs');
      await setStock(sku, 300);
      const ids = Array.from({ length: 40 }, () => newId());
      for (const id of ids) expect((await reserve(id, [{ sku, quantity: 3 }], 10)).statusCode).toBe(201);
      clock.advance(11_000);
      const sweeper = new ReservationSweeper({ storage, clock, logger, batchSize: 3 });
      const sweeping = (async () => {
        for (;;) if ((await sweeper.sweepOnce()).length === 0) return;
      })();
      const commits = await Promise.all(ids.map((id) => act(id, 'commit')));
      await sweeping;
      let committed = 0;
      for (const [i, res] of commits.entries()) {
        const status = await statusOf(ids[i] ?? '');
        if (res.statusCode === 200) {
          committed++;
          expect(status).toBe('COMMITTED');
        } else {
          expect(res.statusCode).toBe(409);
          expect(status).toBe('EXPIRED');
        }
      }
      expect(await level(sku)).toMatchObject({ onHand: 300 - 3 * committed, reserved: 0 });
      await expectInvariants();
    });
  });
}
