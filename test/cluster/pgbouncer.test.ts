import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStorage } from '@agora/platform';
import { TEST_POSTGRES_URL, createTestDatabase, postgresBackend, type TestBackend } from '@agora/platform/testing';
import { Shop, mapLimit, type Shopper } from '../support/shop.js';
import type { SystemVariant } from '../support/system.js';
import { PGBOUNCER_LIMITS, pgbouncerAvailable, startPgbouncer, type RunningPgbouncer } from '../support/pgbouncer.js';

/**
 * PgBouncer in transaction pooling, as docs/operations.md runs it in production: the whole system
 * (every service, its migrations, the saga log, the outboxes) on a pool bigger than the server
 * connections PgBouncer keeps, and a crowd checking out one SKU at once. Named statements are on
 * only when the installed PgBouncer keeps them (>= 1.21 with max_prepared_statements); Debian 12's
 * 1.18 does not, so the system runs with AGORA_DB_NAMED_STATEMENTS=off there.
 */

const BUYERS = 30;
const UNITS = 20;
/** The application's pool: larger than PgBouncer's server pool, so clients really are multiplexed. */
const APP_POOL_MAX = 20;
const REGISTER_CONCURRENCY = 8;
const SETUP_TIMEOUT_MS = 3 * 60_000;
const BURST_TIMEOUT_MS = 2 * 60_000;

const available = pgbouncerAvailable() && (await postgresBackend.available());

describe.runIf(available)('the system through PgBouncer (transaction pooling)', () => {
  let bouncer: RunningPgbouncer;
  let shop: Shop;
  let database: string;
  let crowd: Shopper[];
  let hot: string;

  beforeAll(async () => {
    const server = new URL(TEST_POSTGRES_URL);
    bouncer = await startPgbouncer({ host: server.hostname, port: Number(server.port || 5432) });
    expect(APP_POOL_MAX).toBeGreaterThan(PGBOUNCER_LIMITS.defaultPoolSize);
    const throughBouncer: TestBackend = {
      kind: 'postgres',
      available: async () => true,
      async open() {
        const created = await createTestDatabase('agora_pgbouncer');
        database = new URL(created.url).pathname.slice(1);
        const storage = new PostgresStorage({ url: bouncer.urlFor(database), poolMax: APP_POOL_MAX, namedStatements: bouncer.namedStatements });
        return {
          storage,
          url: bouncer.urlFor(database),
          async release() {
            await storage.close();
            await created.drop();
          },
        };
      },
    };
    const variant: SystemVariant = { name: 'pgbouncer', backend: throughBouncer, nats: false, available: async () => true };
    shop = await Shop.open(variant, { AGORA_DB_NAMED_STATEMENTS: bouncer.namedStatements ? 'on' : 'off' });
    hot = await shop.sku(1_500, UNITS, 'BOUNCE');
    crowd = await shop.registerMany(BUYERS, REGISTER_CONCURRENCY);
    await mapLimit(crowd, REGISTER_CONCURRENCY, (buyer) => shop.add(buyer, hot, 1));
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await shop?.stop();
    await bouncer?.stop();
  });

  it(
    `${BUYERS} buyers, ${UNITS} units, all at once: exactly ${UNITS} CONFIRMED, the rest a clean 409, no 5xx, nothing oversold`,
    async () => {
      const before = await bouncer.transactions(database);
      const answers = await Promise.all(crowd.map((buyer) => shop.checkout(buyer, 'tok_visa')));
      const statuses = answers.map((answer) => answer.status);
      expect(answers.filter((answer) => answer.status >= 500).map((answer) => answer.text)).toEqual([]);
      expect(statuses.filter((status) => status === 201)).toHaveLength(UNITS);
      expect(statuses.filter((status) => status === 409)).toHaveLength(BUYERS - UNITS);
      expect(await shop.stockRow(hot)).toEqual({ onHand: 0, reserved: 0 });
      // It all went through PgBouncer: its transaction count for the database grew with the burst.
      expect((await bouncer.transactions(database)) - before).toBeGreaterThan(BUYERS);
      expect(bouncer.log()).not.toMatch(/prepared statement .* (does not exist|already exists)/);
      await shop.expectInvariants();
    },
    BURST_TIMEOUT_MS,
  );
});
