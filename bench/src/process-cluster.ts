import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClusterView } from '@agora/contracts';
import { dividePoolBudget, readConnectionLimits, type PoolDivision } from '@agora/platform';
import type { NodeLauncher } from './child.js';
import { LoopbackClient } from './http.js';

/**
 * A cluster of `agora service NAME` processes that a benchmark or a test starts, watches and
 * breaks on purpose: every member is its own process group (so a signal reaches the whole tree and
 * nothing is left behind), its pid and instance id are known, and nothing restarts on its own —
 * what the caller kills stays dead, which is what a failover measurement needs.
 */

export const PROCESS_CLUSTER_LIMITS = {
  /** Every member compiles its TypeScript at start: on 2 busy cores ten processes take a while. */
  readyTimeoutMs: 300_000,
  /** `agora admin create` (migrations of every service + the admin). */
  setupTimeoutMs: 180_000,
  /** SIGTERM first (each member drains); SIGKILL to the group after this. */
  stopGraceMs: 15_000,
  outputTailChars: 20_000,
  pollMs: 250,
} as const;

export interface ClusterAdmin {
  email: string;
  password: string;
}

export interface ProcessClusterOptions {
  launcher: NodeLauncher;
  /** The CLI entry point (apps/agora/src/main.ts). */
  agoraMain: string;
  /**
   * The whole environment of every member — nothing else is inherited: DATABASE_URL, REDIS_URL,
   * NATS_URL, secrets, AGORA_DISCOVERY_PREFIX / AGORA_NATS_STREAM for isolation, tuning.
   */
  env: Readonly<Record<string, string>>;
  /** Gateway processes (each on a port of its own, chosen by the OS). */
  gateways: number;
  /** Processes per service; instance ids are `<service>-1`, `<service>-2`, ... */
  services: Readonly<Record<string, number>>;
  /** Created (with every service's migrations) before any member starts; used to read the cluster view. */
  admin: ClusterAdmin;
  /**
   * The most PostgreSQL connections the members' pools may hold together, for a cluster on a
   * server others use too (a test beside other test files). Unset: the server's whole budget, as
   * `agora cluster` gives it. Either way each service member's pool is the budget's share
   * (`dividePoolBudget`), unless `env` sets AGORA_DB_POOL_MAX (the owner's size wins).
   */
  connectionShare?: number;
  progress?: (line: string) => void;
  readyTimeoutMs?: number;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ClusterMember {
  readonly service: string;
  readonly instanceId: string;
  readonly pid: number;
  /** Where it listens, once it said so. */
  readonly url: string | undefined;
  readonly alive: boolean;
  /** Settles when the process has exited, however it ended. */
  readonly exited: Promise<Exit>;
  output(): string;
}

// The gateway's `/api/v1/admin/cluster` answer, declared once in the contracts; passed on to the bench's users.
export type { ClusterView };

class Member implements ClusterMember {
  private tail = '';
  private listening: string | undefined;
  readonly exited: Promise<Exit>;
  private exit: Exit | undefined;

  constructor(
    readonly service: string,
    readonly instanceId: string,
    private readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer) => {
      this.tail = (this.tail + chunk.toString()).slice(-PROCESS_CLUSTER_LIMITS.outputTailChars);
      // `agora service` prints "<name> <instance> listening on http://host:port" once it serves.
      this.listening ??= /listening on (http:\/\/[^\s]+)/.exec(this.tail)?.[1];
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      }),
    );
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.instanceId} has no pid (spawn failed)`);
    return this.child.pid;
  }

  get url(): string | undefined {
    return this.listening;
  }

  get alive(): boolean {
    return this.exit === undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  output(): string {
    return this.tail;
  }

  /** Signals the member's whole process group (it leads one: spawned detached). */
  signal(signal: NodeJS.Signals): void {
    if (!this.alive || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
}

function spawnAgora(options: ProcessClusterOptions, args: readonly string[], extraEnv: Record<string, string>): ChildProcess {
  return spawn(options.launcher.node, [...options.launcher.nodeArgs, options.agoraMain, ...args], {
    // AGORA_EXIT_WITH_PARENT: should the owner die without stop() (SIGKILL), the members follow.
    env: { ...options.env, AGORA_EXIT_WITH_PARENT: 'on', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
}

export class ProcessCluster {
  private readonly members: Member[] = [];
  private token: string | undefined;
  private stopped = false;
  private division: PoolDivision | undefined;
  /** Last resort if the owner exits without stop(): no member outlives it. */
  private readonly killAllOnExit = () => {
    for (const member of this.members) member.signal('SIGKILL');
  };

  private constructor(private readonly options: ProcessClusterOptions) {
    process.on('exit', this.killAllOnExit);
  }

  /**
   * Migrates every service's schema and creates the admin (`agora admin create`), starts the
   * members, and resolves once every gateway sees every member `up`. On failure everything started
   * is stopped and the error carries the members' output.
   */
  static async start(options: ProcessClusterOptions): Promise<ProcessCluster> {
    // Every member signs and verifies its calls with one secret: the owner's, or one for this cluster.
    const secret = options.env.AGORA_INTERNAL_SECRET ?? randomBytes(48).toString('base64url');
    const cluster = new ProcessCluster({ ...options, env: { ...options.env, AGORA_INTERNAL_SECRET: secret } });
    try {
      await cluster.divideConnections();
      await cluster.setUp();
      cluster.spawnAll();
      await cluster.waitReady(options.readyTimeoutMs ?? PROCESS_CLUSTER_LIMITS.readyTimeoutMs);
      return cluster;
    } catch (err) {
      const outputs = cluster.members.map((m) => `--- ${m.instanceId} (${m.alive ? 'running' : 'exited'}) ---\n${m.output().slice(-3_000)}`).join('\n');
      await cluster.stop();
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n${outputs}`, { cause: err });
    }
  }

  /** How the members' pools share the server (undefined without DATABASE_URL). */
  get connections(): PoolDivision | undefined {
    return this.division;
  }

  get gatewayUrls(): string[] {
    return this.members.filter((m) => m.service === 'gateway').map((m) => m.url ?? '');
  }

  /** The admin's bearer token (logged in while waiting for readiness). */
  get adminToken(): string {
    if (!this.token) throw new Error('the cluster is not ready');
    return this.token;
  }

  member(instanceId: string): ClusterMember {
    const member = this.members.find((m) => m.instanceId === instanceId);
    if (!member) throw new Error(`no member ${instanceId}; there are ${this.members.map((m) => m.instanceId).join(', ')}`);
    return member;
  }

  all(): readonly ClusterMember[] {
    return this.members;
  }

  /** Sends `signal` to the member's process group; returns the wall-clock time (ms) it was sent. */
  kill(instanceId: string, signal: NodeJS.Signals): number {
    const member = this.members.find((m) => m.instanceId === instanceId);
    if (!member) throw new Error(`no member ${instanceId}`);
    if (!member.alive) throw new Error(`${instanceId} is not running`);
    const at = Date.now();
    member.signal(signal);
    return at;
  }

  /**
   * Starts a member that has exited again, with the same service, instance id and settings (a
   * gateway listens on a new port): what a supervisor does, but when the owner decides. Does not
   * wait until it listens (its `url` says when).
   */
  respawn(instanceId: string): ClusterMember {
    const slot = this.members.findIndex((m) => m.instanceId === instanceId);
    const old = this.members[slot];
    if (!old) throw new Error(`no member ${instanceId}`);
    if (old.alive) throw new Error(`${instanceId} is still running`);
    if (this.stopped) throw new Error('the cluster is stopped');
    const member = this.spawnMember(old.service, instanceId);
    this.members[slot] = member;
    return member;
  }

  /** The cluster as `gatewayUrl` sees it (`/api/v1/admin/cluster`). */
  async view(http: LoopbackClient): Promise<ClusterView> {
    const answer = await http.request('GET', '/api/v1/admin/cluster', { token: this.adminToken, parse: true });
    if (answer.status !== 200) throw new Error(`/api/v1/admin/cluster answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    return answer.body as ClusterView;
  }

  /** SIGTERM to every member still running (each drains), SIGKILL to the stragglers' groups after the grace period. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const alive = this.members.filter((m) => m.alive);
    for (const member of alive) member.signal('SIGTERM');
    const deadline = sleep(PROCESS_CLUSTER_LIMITS.stopGraceMs).then(() => 'late' as const);
    const all = Promise.all(alive.map((m) => m.exited)).then(() => 'done' as const);
    if ((await Promise.race([all, deadline])) === 'late') {
      for (const member of alive) member.signal('SIGKILL');
      await all;
    }
    process.off('exit', this.killAllOnExit);
  }

  /** The connection budget, divided among the service members (gateways keep no pool) before any starts. */
  private async divideConnections(): Promise<void> {
    const url = this.options.env.DATABASE_URL;
    if (url === undefined) return;
    const pools = Object.values(this.options.services).reduce((sum, count) => sum + count, 0);
    if (pools === 0) return;
    const operator = this.options.env.AGORA_DB_POOL_MAX;
    this.division = dividePoolBudget(await readConnectionLimits(url), pools, {
      ...(operator === undefined ? {} : { operatorPoolMax: Number(operator) }),
      ...(this.options.connectionShare === undefined ? {} : { shareConnections: this.options.connectionShare }),
    });
    const { poolMax, source, budget, fits } = this.division;
    this.options.progress?.(`${pools} pools of ${poolMax} connections (${source === 'operator' ? 'AGORA_DB_POOL_MAX' : 'the budget divided'}; budget ${budget}${fits ? '' : ', EXCEEDED'})`);
  }

  private async setUp(): Promise<void> {
    this.options.progress?.('migrating and creating the admin (agora admin create)');
    const child = spawnAgora(this.options, ['admin', 'create', '--email', this.options.admin.email, '--password', this.options.admin.password], {});
    const member = new Member('setup', 'setup', child);
    this.members.push(member);
    const timeout = sleep(PROCESS_CLUSTER_LIMITS.setupTimeoutMs).then(() => undefined);
    const exit = await Promise.race([member.exited, timeout]);
    if (exit === undefined) {
      member.signal('SIGKILL');
      throw new Error(`agora admin create did not finish within ${PROCESS_CLUSTER_LIMITS.setupTimeoutMs / 1000} s`);
    }
    this.members.splice(this.members.indexOf(member), 1);
    if (exit.code !== 0) throw new Error(`agora admin create failed (${JSON.stringify(exit)}):\n${member.output()}`);
  }

  private spawnAll(): void {
    for (const [service, count] of Object.entries(this.options.services)) {
      for (let i = 1; i <= count; i++) {
        this.members.push(this.spawnMember(service, `${service}-${i}`));
      }
    }
    for (let g = 1; g <= this.options.gateways; g++) this.members.push(this.spawnMember('gateway', `gateway-${g}`));
    this.options.progress?.(`started ${this.members.length} processes: ${this.members.map((m) => `${m.instanceId} (pid ${m.pid})`).join(', ')}`);
  }

  private spawnMember(service: string, instanceId: string): Member {
    if (service === 'gateway') {
      return new Member('gateway', instanceId, spawnAgora(this.options, ['service', 'gateway'], { AGORA_INSTANCE_ID: instanceId, PORT: '0', HOST: '127.0.0.1' }));
    }
    // No HOST: a service listens only where it is advertised (loopback unless the owner's env says otherwise).
    const pool: Record<string, string> = this.division?.source === 'budget' ? { AGORA_DB_POOL_MAX: String(this.division.poolMax) } : {};
    return new Member(service, instanceId, spawnAgora(this.options, ['service', service], { AGORA_INSTANCE_ID: instanceId, AGORA_SERVICE_PORT: '0', ...pool }));
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const check = () => {
      const dead = this.members.find((m) => !m.alive);
      if (dead) throw new Error(`${dead.instanceId} exited while the cluster was starting:\n${dead.output()}`);
      if (Date.now() > deadline) {
        const waiting = this.members.filter((m) => m.url === undefined).map((m) => m.instanceId);
        throw new Error(`the cluster was not ready within ${timeoutMs / 1000} s${waiting.length > 0 ? ` (not listening yet: ${waiting.join(', ')})` : ''}`);
      }
    };
    while (this.members.some((m) => m.url === undefined)) {
      check();
      await sleep(PROCESS_CLUSTER_LIMITS.pollMs);
    }
    this.options.progress?.('every process listens; waiting until each gateway sees every instance up');
    const expected = this.members.filter((m) => m.service !== 'gateway').map((m) => m.instanceId);
    for (const url of this.gatewayUrls) {
      const http = new LoopbackClient(url, 2);
      try {
        for (;;) {
          check();
          const seen = await this.upInstances(http).catch(() => new Set<string>());
          if (expected.every((id) => seen.has(id))) break;
          await sleep(PROCESS_CLUSTER_LIMITS.pollMs);
        }
      } finally {
        await http.close();
      }
    }
  }

  private async upInstances(http: LoopbackClient): Promise<Set<string>> {
    if (!this.token) {
      const login = await http.request('POST', '/api/v1/auth/login', { body: this.options.admin, parse: true });
      if (login.status !== 200) return new Set();
      this.token = (login.body as { token: string }).token;
    }
    const view = await this.view(http);
    return new Set(view.services.flatMap((s) => s.instances.filter((i) => i.state === 'up').map((i) => i.id)));
  }
}

/**
 * The caller's environment without anything that configures Agora or the test runner, as the base
 * of a cluster's environment: what the cluster gets is then exactly what its owner sets.
 */
export function baseEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  const base: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (key.startsWith('AGORA_') || key.startsWith('VITEST') || key.endsWith('DATABASE_URL')) continue;
    if (['NATS_URL', 'REDIS_URL', 'PORT', 'HOST'].includes(key)) continue;
    base[key] = value;
  }
  return base;
}
