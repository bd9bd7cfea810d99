import { afterEach, describe, expect, it } from 'vitest';
import { createServer, connect, type Server } from 'node:net';
import { freePort } from '@agora/platform/testing';
import { BackendsUnavailable, requireBackends } from '../src/backends.js';

/**
 * A service started while its database is down waits for it (bounded) instead of exiting. The
 * database is the real one, reached through a TCP relay that is not listening at first.
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const POSTGRES = { host: '127.0.0.1', port: 5432 };

let relay: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => (relay ? relay.close(resolve) : resolve(undefined)));
  relay = undefined;
});

/** Relays `port` to the real PostgreSQL from now on. */
function openRelay(port: number): Promise<Server> {
  const server = createServer((client) => {
    const upstream = connect(POSTGRES.port, POSTGRES.host);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

describe('requireBackends', () => {
  it('fails at once, naming the database, when it does not answer and no wait is allowed', async () => {
    const port = await freePort();
    const urls = { databaseUrl: `postgres://postgres@127.0.0.1:${port}/postgres`, redisUrl: REDIS_URL, natsUrl: NATS_URL };
    const error = await requireBackends(urls).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(BackendsUnavailable);
    expect((error as BackendsUnavailable).problems).toEqual([expect.stringMatching(new RegExp(`^PostgreSQL at postgres://postgres@127\\.0\\.0\\.1:${port}/postgres is unreachable`))]);
  });

  it('waits for a database that comes up within the wait, and says once what it waits for', async () => {
    const port = await freePort();
    const urls = { databaseUrl: `postgres://postgres@127.0.0.1:${port}/postgres`, redisUrl: REDIS_URL, natsUrl: NATS_URL };
    const waits: string[][] = [];
    setTimeout(() => void openRelay(port).then((server) => (relay = server)), 1_000);
    await requireBackends(urls, { waitMs: 20_000, onWait: (problems) => waits.push([...problems]) });
    expect(waits).toHaveLength(1);
    expect(waits[0]?.[0]).toMatch(/^PostgreSQL at .* is unreachable/);
  });

  it('gives up after the wait, naming what never answered', async () => {
    const port = await freePort();
    const urls = { databaseUrl: `postgres://postgres@127.0.0.1:${port}/postgres`, redisUrl: REDIS_URL, natsUrl: NATS_URL };
    const waits: unknown[] = [];
    await expect(requireBackends(urls, { waitMs: 1_500, onWait: (problems) => waits.push(problems) })).rejects.toThrow(/PostgreSQL at .* is unreachable/);
    expect(waits).toHaveLength(1);
  });

  it('does not wait for a variable that is not set: waiting cannot fix a configuration', async () => {
    const waits: unknown[] = [];
    await expect(requireBackends({ databaseUrl: undefined, redisUrl: REDIS_URL, natsUrl: NATS_URL }, { waitMs: 60_000, onWait: (problems) => waits.push(problems) })).rejects.toThrow('PostgreSQL: DATABASE_URL is not set');
    expect(waits).toEqual([]);
  });
});
