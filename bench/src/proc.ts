import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

let ticks: number | undefined;

/** Kernel clock ticks per second, the unit of CPU times in /proc (almost always 100). */
export function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 2_000 }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** CPU seconds every core of the machine has spent busy so far (/proc/stat); undefined without /proc. */
export function machineBusyCpuSeconds(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    const busy = [user, nice, system, irq, softirq, steal].reduce<number>((sum, v) => sum + (v ?? 0), 0);
    return busy / clockTicks();
  } catch {
    return undefined;
  }
}

/** CPU seconds of one process so far, from /proc/<pid>/stat; undefined when it is gone or there is no /proc. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    // Fields after the command name (which may hold spaces, hence the last ')'): utime is 14th, stime 15th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks();
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds so far of each local PostgreSQL backend serving `database` (found by the process
 * title `postgres: ... <database> ...`); empty when the server is not on this machine.
 */
export function databaseBackendsCpu(database: string): Map<number, number> {
  const found = new Map<number, number>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return found;
  }
  for (const name of pids) {
    try {
      const title = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (!title.startsWith('postgres:') || !title.split(' ').includes(database)) continue;
      const cpu = processCpuSeconds(Number(name));
      if (cpu !== undefined) found.set(Number(name), cpu);
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

/** CPU the backends used between two samples (a backend that appeared in between counts from zero). */
export function backendsCpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, cpu] of after) total += cpu - (before.get(pid) ?? 0);
  return total;
}
