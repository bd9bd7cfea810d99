import { setTimeout as sleep } from 'node:timers/promises';
import type { ClusterMember, ProcessCluster } from '@agora/bench';
import type { History } from './history.js';
import type { Fault } from './schedule.js';
import type { ChaosServers } from './servers.js';

/**
 * Applies the schedule's faults, in order and at their times, to the cluster's members and the
 * servers, recording each in the history; and, like a supervisor, starts again any member that
 * exits on its own (recorded too: a member that dies of a backend's restart is worth knowing).
 */

export const FAULT_LIMITS = {
  /** A SIGTERMed member drains; one that has not exited after this long is SIGKILLed. */
  memberExitWaitMs: 20_000,
  /** How often the supervisor looks for members that exited on their own. */
  superviseEveryMs: 1_000,
  /** Wait this long before starting a member that exited on its own (a supervisor's backoff). */
  respawnBackoffMs: 500,
  /** A fault's target that is down is waited for this long (compiling and starting on a busy machine). */
  targetBackWaitMs: 120_000,
} as const;

export interface MemberExit {
  instanceId: string;
  atMs: number;
  code: number | null;
  signal: string | null;
  output: string;
}

export class FaultRunner {
  /** Members a fault holds down right now: the supervisor leaves them to it. */
  private readonly held = new Set<string>();
  private supervisor: NodeJS.Timeout | undefined;
  readonly unexpectedExits: MemberExit[] = [];

  constructor(
    private readonly cluster: ProcessCluster,
    private readonly servers: ChaosServers,
    private readonly history: History,
  ) {}

  /** Starts the supervisor: members that exit without a fault are recorded and started again. */
  supervise(): void {
    this.supervisor = setInterval(() => void this.reviveStrays(), FAULT_LIMITS.superviseEveryMs);
  }

  private reviving = false;
  private async reviveStrays(): Promise<void> {
    if (this.reviving) return;
    this.reviving = true;
    try {
      for (const member of this.cluster.all()) {
        if (member.alive || this.held.has(member.instanceId)) continue;
        const exit = await member.exited;
        this.unexpectedExits.push({ instanceId: member.instanceId, atMs: this.history.sinceStartMs(), code: exit.code, signal: exit.signal, output: member.output().slice(-2_000) });
        await sleep(FAULT_LIMITS.respawnBackoffMs);
        if (!member.alive && !this.held.has(member.instanceId)) this.cluster.respawn(member.instanceId);
      }
    } finally {
      this.reviving = false;
    }
  }

  /** Runs the whole schedule; each fault is finished (the member back, the server up) before the next, which may then start late. */
  async run(schedule: readonly Fault[]): Promise<void> {
    for (const fault of schedule) {
      const wait = fault.atMs - this.history.sinceStartMs();
      if (wait > 0) await sleep(wait);
      await this.apply(fault);
    }
  }

  private async apply(fault: Fault): Promise<void> {
    const atMs = this.history.sinceStartMs();
    const record = (detail: string, skipped?: string) =>
      this.history.fault({ kind: fault.kind, target: fault.target, atMs, endedAtMs: this.history.sinceStartMs(), detail, ...(skipped ? { skipped } : {}) });
    switch (fault.kind) {
      case 'sigkill':
      case 'sigterm':
      case 'sigstop': {
        // A target that is down (it exited on its own and the supervisor is starting it again) is waited for.
        const member = await this.running(fault.target);
        if (!member) {
          record('', `${fault.target} was not running again within ${FAULT_LIMITS.targetBackWaitMs / 1000} s`);
          return;
        }
        this.held.add(fault.target);
        try {
          if (fault.kind === 'sigstop') {
            this.cluster.kill(fault.target, 'SIGSTOP');
            await sleep(fault.holdMs);
            this.cluster.kill(fault.target, 'SIGCONT');
            record(`stopped ${fault.holdMs} ms, then SIGCONT`);
            return;
          }
          this.cluster.kill(fault.target, fault.kind === 'sigkill' ? 'SIGKILL' : 'SIGTERM');
          const exited = await Promise.race([member.exited, sleep(FAULT_LIMITS.memberExitWaitMs).then(() => undefined)]);
          if (!exited) this.cluster.kill(fault.target, 'SIGKILL');
          const exit = exited ?? (await member.exited);
          await sleep(fault.holdMs);
          this.cluster.respawn(fault.target);
          record(`exited (${exit.signal ?? `code ${exit.code}`})${exited ? '' : ' only after SIGKILL'}, started again after ${fault.holdMs} ms`);
        } finally {
          this.held.delete(fault.target);
        }
        return;
      }
      case 'restart-postgres':
        await this.servers.restartPostgres(fault.how === 'immediate' ? 'immediate' : 'fast', fault.holdMs);
        record(`pg_ctl stop -m ${fault.how}, down ${fault.holdMs} ms`);
        return;
      case 'restart-redis':
        await this.servers.restartRedis(fault.how === 'SIGKILL' ? 'SIGKILL' : 'SIGTERM', fault.holdMs);
        record(`${fault.how}, down ${fault.holdMs} ms, back empty`);
        return;
      case 'restart-nats':
        await this.servers.restartNats(fault.how === 'SIGKILL' ? 'SIGKILL' : 'SIGTERM', fault.holdMs);
        record(`${fault.how}, down ${fault.holdMs} ms`);
        return;
      case 'restart-pgbouncer':
        await this.servers.restartPgbouncer(fault.holdMs);
        record(`down ${fault.holdMs} ms`);
        return;
    }
  }

  private async running(instanceId: string): Promise<ClusterMember | undefined> {
    const deadline = Date.now() + FAULT_LIMITS.targetBackWaitMs;
    for (;;) {
      const member = this.cluster.all().find((m) => m.instanceId === instanceId);
      if (member?.alive && member.url !== undefined) return member;
      if (Date.now() > deadline) return undefined;
      await sleep(FAULT_LIMITS.superviseEveryMs);
    }
  }

  /** Stops supervising; every member is running again (none stopped, none down) when this returns. */
  async settle(): Promise<void> {
    if (this.supervisor) clearInterval(this.supervisor);
    while (this.reviving) await sleep(50);
    for (const member of this.cluster.all()) if (!member.alive) this.cluster.respawn(member.instanceId);
  }
}
