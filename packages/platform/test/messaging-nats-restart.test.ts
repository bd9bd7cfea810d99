import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { freePort } from '../src/testing/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNatsEventBus, createLogger, type NatsEventBus } from '../src/index.js';
import { Received, eventually, makeEvent } from './messaging-helpers.js';

/**
 * The broker restarted under a running bus: a private nats-server (started and killed by this test
 * only) on a free port, with its own store directory so streams and durable consumers survive.
 */
const hasNatsServer = spawnSync('nats-server', ['--version']).status === 0;
const logger = createLogger('nats-restart-test', 'silent');
const TYPE = 'order.confirmed';


describe.runIf(hasNatsServer)('NATS event bus across a broker restart', () => {
  let port: number;
  let storeDir: string;
  let server: ChildProcess | undefined;

  const startServer = () => {
    server = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], { stdio: 'ignore' });
  };
  const killServer = async () => {
    const running = server;
    server = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };

  beforeAll(async () => {
    port = await freePort();
    storeDir = mkdtempSync(join(tmpdir(), 'agora-nats-'));
    startServer();
  });
  afterAll(async () => {
    await killServer();
    rmSync(storeDir, { recursive: true, force: true });
  });

  it('keeps delivering to a durable subscriber after the server is killed and restarted', async () => {
    const url = `nats://127.0.0.1:${port}`;
    let bus: NatsEventBus | undefined;
    await eventually(async () => {
      bus = await connectNatsEventBus({ url, logger }).catch(() => undefined);
      return bus !== undefined;
    }, 'the private server to accept connections');
    if (!bus) throw new Error('unreachable');
    const connected = bus;
    try {
      const received = new Received();
      await connected.subscribe({ durable: 'survivor', types: [TYPE], handler: received.handler });
      const before = makeEvent(TYPE);
      await connected.publish(before);
      await eventually(() => received.has(before.id), 'the event before the restart');

      await killServer();
      await expect(connected.ping()).rejects.toThrow();
      startServer();

      const after = makeEvent(TYPE);
      await eventually(async () => {
        try {
          await connected.publish(after);
          return true;
        } catch (err) {
          logger.debug({ err }, 'publish while the server restarts');
          return false;
        }
      }, 'a publish accepted by the restarted server', 40_000);
      await eventually(() => received.has(after.id), 'the event after the restart', 40_000);
      expect(received.count(before.id)).toBe(1);
      await expect(connected.ping()).resolves.toBeUndefined();
    } finally {
      await connected.close();
    }
  });
});
