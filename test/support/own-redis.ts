import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { cacheRedisConnection } from '@agora/platform';
import { freePort, servicesRequired } from '@agora/platform/testing';

/** The redis-server binary a test starts its own Redis with. */
const REDIS_SERVER = process.env.AGORA_TEST_REDIS_SERVER ?? 'redis-server';
/** How long a started redis-server has to answer PING (a busy 2-core machine starts it slowly). */
const REDIS_START_TIMEOUT_MS = 10_000;
const REDIS_PROBE_PAUSE_MS = 100;

/** Whether redis-server is installed; with AGORA_REQUIRE_SERVICES=1 a missing one fails the run instead of skipping. */
export function redisServerInstalled(): boolean {
  const found = spawnSync(REDIS_SERVER, ['--version'], { stdio: 'ignore' }).status === 0;
  if (!found && servicesRequired()) throw new Error(`AGORA_REQUIRE_SERVICES=1 but ${REDIS_SERVER} is not installed (apt-get install redis-server)`);
  return found;
}

/** PONG from a new connection (one reused after a failed connect refuses to connect again), or 'down'. */
async function pingRedis(url: string): Promise<string> {
  const probe = cacheRedisConnection(url, 'own-redis-probe');
  try {
    await probe.connect();
    return await probe.ping();
  } catch {
    return 'down';
  } finally {
    probe.disconnect();
  }
}

/**
 * A redis-server of a test's own on a free port, without persistence, so that the test may kill it
 * (SIGKILL: everything in it is lost) and start it again empty on the same port — what a cluster
 * sees when its Redis restarts. The shared Redis on 6379 is never touched.
 */
export class OwnRedis {
  private child: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<OwnRedis> {
    const redis = new OwnRedis(await freePort());
    await redis.restart();
    return redis;
  }

  /** Starts the server (again) and resolves once it answers; one that never does is killed. */
  async restart(): Promise<void> {
    if (this.running()) throw new Error(`the test's redis-server on ${this.port} is still running`);
    this.child = spawn(REDIS_SERVER, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const deadline = Date.now() + REDIS_START_TIMEOUT_MS;
    while ((await pingRedis(this.url)) !== 'PONG') {
      if (Date.now() > deadline || !this.running()) {
        await this.kill();
        throw new Error(`the test's redis-server on ${this.port} did not answer within ${REDIS_START_TIMEOUT_MS} ms`);
      }
      await sleep(REDIS_PROBE_PAUSE_MS);
    }
  }

  /** SIGKILL, and resolves once it exited (at once if it is not running). */
  async kill(): Promise<void> {
    const child = this.child;
    // A process a signal already ended has no exit code, only a signal code: no 'exit' is coming.
    if (!child || !this.running()) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  private running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }
}
