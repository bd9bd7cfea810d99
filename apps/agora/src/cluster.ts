import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { agoraLauncher, launchArgs, type AgoraLauncher } from '@agora/cli/launch';
import { connectRedisRegistry, dividePoolBudget, parseDiscoveryKeyPrefix, readConnectionLimits, type Logger } from '@agora/platform';
import { persistedSecret, type AgoraConfig } from './config.js';
import { SERVICE_MODULES } from './compose.js';
import { requireBackends } from './backends.js';

export interface ClusterOptions {
  /** Processes per service (default 2). */
  replicas: number;
  /** Gateway processes: the first on PORT, the rest on the next ports (default 1). */
  gateways: number;
  /** Restart a process that exits on its own (default on). */
  restart: boolean;
  /** Connections per service process's pool (`Cluster.poolMax`); unset: each child's AGORA_DB_POOL_MAX or default. */
  poolMax?: number;
}

export interface ClusterMember {
  name: string;
  index: number;
  instanceId: string;
  child: ChildProcess;
  restarts: number;
}

const RESTART_BACKOFF_MS = [250, 500, 1_000, 2_000, 5_000];
const STOP_GRACE_MS = 15_000;

/**
 * `agora cluster`: a small process supervisor. It checks the backends, runs migrations and the
 * seed once (in the caller, before any child), then starts G gateways and N processes per service
 * with shared secrets, restarts what dies on its own, and stops everything on Ctrl-C / SIGTERM.
 */
export class Cluster {
  readonly members: ClusterMember[] = [];
  private stopping = false;
  /** The caller-assertion secret every member shares (docs/security.md): the operator's, or one for this cluster's life. */
  private readonly internalSecret: string;
  /** How members start: `node apps/agora/dist/src/main.js service NAME` once built (bin/launch.js). */
  private readonly launcher: AgoraLauncher = agoraLauncher();

  constructor(
    private readonly config: AgoraConfig,
    private readonly options: ClusterOptions,
    private readonly logger: Logger,
    private readonly env: Record<string, string | undefined> = process.env,
  ) {
    this.internalSecret = config.internalSecret ?? randomBytes(48).toString('base64url');
  }

  static async checkBackends(config: AgoraConfig): Promise<void> {
    await requireBackends({ databaseUrl: config.databaseUrl, redisUrl: config.redisUrl, natsUrl: config.natsUrl });
  }

  /**
   * Each service process's pool size, from the server's connection budget: max_connections minus
   * its reserved connections and a margin, divided by the processes that keep a pool (every
   * replica of every service; gateways have none). An AGORA_DB_POOL_MAX set by the operator wins,
   * with a warning when the pools it makes would not fit (behind PgBouncer they may: docs/operations.md).
   */
  static async poolMax(config: AgoraConfig, replicas: number, logger: Logger, env: Record<string, string | undefined> = process.env): Promise<number | undefined> {
    if (!config.databaseUrl) return undefined;
    const limits = await readConnectionLimits(config.databaseUrl);
    const { poolMax, source, budget, pools, fits } = dividePoolBudget(limits, SERVICE_MODULES.length * replicas, env.AGORA_DB_POOL_MAX === undefined ? {} : { operatorPoolMax: config.dbPoolMax });
    if (!fits) logger.warn({ pools, poolMax, budget, maxConnections: limits.maxConnections }, 'AGORA_DB_POOL_MAX x processes exceeds the server connection budget');
    if (source === 'operator') return undefined;
    logger.info({ pools, poolMax, budget, maxConnections: limits.maxConnections, reserved: limits.reservedConnections }, 'connection budget divided among the service processes');
    return poolMax;
  }

  /** The environment every child shares: the same secrets, so tokens and webhooks verify anywhere. */
  private childEnv(extra: Record<string, string>): Record<string, string | undefined> {
    return {
      ...this.env,
      AGORA_JWT_SECRET: this.config.jwtSecret,
      AGORA_INTERNAL_SECRET: this.internalSecret,
      AGORA_PAYMENT_WEBHOOK_SECRET: this.env.AGORA_PAYMENT_WEBHOOK_SECRET ?? persistedSecret(this.config.dataDir, 'payment-webhook-secret'),
      AGORA_SEED: 'off',
      // A member whose supervisor died (even by SIGKILL) drains and exits instead of living on.
      AGORA_EXIT_WITH_PARENT: 'on',
      ...extra,
    };
  }

  start(): void {
    for (let g = 0; g < this.options.gateways; g++) {
      this.spawnMember('gateway', g, { PORT: String(this.config.port + g), AGORA_INSTANCE_ID: `gateway-${g + 1}` });
    }
    for (const module of SERVICE_MODULES) {
      for (let r = 0; r < this.options.replicas; r++) {
        const extra: Record<string, string> = { AGORA_SERVICE_PORT: '0', AGORA_INSTANCE_ID: `${module.name}-${r + 1}` };
        if (this.options.poolMax !== undefined) extra.AGORA_DB_POOL_MAX = String(this.options.poolMax);
        this.spawnMember(module.name, r, extra);
      }
    }
  }

  gatewayUrls(): string[] {
    return Array.from({ length: this.options.gateways }, (_, g) => `http://127.0.0.1:${this.config.port + g}`);
  }

  private spawnMember(name: string, index: number, extra: Record<string, string>, restarts = 0): ClusterMember {
    const child = spawn(this.launcher.node, launchArgs(this.launcher, ['service', name]), {
      env: this.childEnv(extra),
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const member: ClusterMember = { name, index, instanceId: extra.AGORA_INSTANCE_ID ?? name, child, restarts };
    const slot = this.members.findIndex((m) => m.name === name && m.index === index);
    if (slot >= 0) this.members[slot] = member;
    else this.members.push(member);
    child.once('exit', (code, signal) => {
      if (this.stopping) return;
      this.logger.warn({ service: name, instance: member.instanceId, code, signal }, 'cluster member exited');
      if (!this.options.restart) return;
      const delay = RESTART_BACKOFF_MS[Math.min(restarts, RESTART_BACKOFF_MS.length - 1)] ?? 5_000;
      setTimeout(() => {
        if (!this.stopping) this.spawnMember(name, index, extra, restarts + 1);
      }, delay).unref();
    });
    return member;
  }

  /** SIGTERM to every member (each drains), SIGKILL to any still alive after the grace period. */
  async stop(): Promise<void> {
    this.stopping = true;
    const alive = this.members.filter((m) => m.child.exitCode === null && m.child.signalCode === null);
    const exits = alive.map((m) => new Promise<void>((resolve) => m.child.once('exit', () => resolve())));
    for (const m of alive) m.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const m of alive) if (m.child.exitCode === null) m.child.kill('SIGKILL');
    }, STOP_GRACE_MS);
    await Promise.all(exits);
    clearTimeout(timer);
  }

  /**
   * Waits until every gateway answers /health/ready and can list products, and every member of
   * every service is registered in discovery (a gateway that answers is not yet a whole cluster).
   */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const url of this.gatewayUrls()) {
      for (;;) {
        if (Date.now() > deadline) throw new Error(`cluster not ready within ${timeoutMs} ms (${url})`);
        try {
          const ready = await fetch(`${url}/health/ready`);
          const products = await fetch(`${url}/api/v1/products?limit=1`);
          if (ready.status === 200 && products.status === 200) break;
        } catch {
          // not listening yet
        }
        await sleep(250);
      }
    }
    await this.waitRegistered(deadline, timeoutMs);
  }

  private async waitRegistered(deadline: number, timeoutMs: number): Promise<void> {
    const registry = await connectRedisRegistry({ url: this.config.redisUrl ?? '', logger: this.logger, name: 'agora-cluster', keyPrefix: parseDiscoveryKeyPrefix(this.env) });
    try {
      for (const module of SERVICE_MODULES) {
        const expected = this.members.filter((m) => m.name === module.name).map((m) => m.instanceId);
        for (;;) {
          const listed = new Set((await registry.list(module.name)).filter((record) => !record.draining).map((record) => record.instance.id));
          const missing = expected.filter((id) => !listed.has(id));
          if (missing.length === 0) break;
          if (Date.now() > deadline) throw new Error(`cluster not ready within ${timeoutMs} ms: ${missing.join(', ')} not registered`);
          await sleep(250);
        }
      }
    } finally {
      await registry.close();
    }
  }
}
