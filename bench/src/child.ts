import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { processCpuSeconds } from './proc.js';

/** How a TypeScript entry point is run as its own Node process (the CLI hands this over). */
export interface NodeLauncher {
  /** The Node binary. */
  node: string;
  /** Arguments before the script, e.g. `--import <tsx loader URL>`. */
  nodeArgs: readonly string[];
}

export const CHILD_LIMITS = {
  /** The tail of a child's output kept for error messages. */
  outputTailChars: 16_000,
  /** A child that does not announce its port within this long is killed. */
  readyTimeoutMs: 120_000,
  /** SIGTERM first; SIGKILL after this long. */
  stopTimeoutMs: 20_000,
} as const;

/**
 * A server under test in its own process, so the load generator never shares its event loop.
 * Its port is read from a line it prints once it listens.
 */
export class ServerProcess {
  private tail = '';
  private readonly exited: Promise<number | null>;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer) => {
      this.tail = (this.tail + chunk.toString()).slice(-CHILD_LIMITS.outputTailChars);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  }

  static async start(
    name: string,
    launcher: NodeLauncher,
    script: string,
    args: readonly string[],
    env: NodeJS.ProcessEnv,
    portLine: RegExp,
  ): Promise<{ server: ServerProcess; port: number }> {
    const child = spawn(launcher.node, [...launcher.nodeArgs, script, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const server = new ServerProcess(name, child);
    const port = await new Promise<number>((resolve, reject) => {
      let seen = '';
      const timer = setTimeout(() => fail(new Error(`${name} did not start within ${CHILD_LIMITS.readyTimeoutMs / 1000} s`)), CHILD_LIMITS.readyTimeoutMs);
      const onData = (chunk: Buffer) => {
        seen = (seen + chunk.toString()).slice(-4_000);
        const match = portLine.exec(seen);
        if (match?.[1]) {
          cleanup();
          resolve(Number(match[1]));
        }
      };
      const onExit = (code: number | null) => fail(new Error(`${name} exited with ${code} before it was ready`));
      const fail = (err: Error) => {
        cleanup();
        reject(err);
      };
      const cleanup = () => {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.off('exit', onExit);
      };
      child.stdout?.on('data', onData);
      child.once('exit', onExit);
    }).catch(async (err: unknown) => {
      await server.stop();
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- ${name} output ---\n${server.output()}`);
    });
    return { server, port };
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  output(): string {
    return this.tail;
  }

  /** Resident and peak resident memory (MB) from /proc; undefined where there is no /proc. */
  memory(): { rssMb: number; peakRssMb: number } | undefined {
    if (this.child.pid === undefined || this.child.exitCode !== null) return undefined;
    try {
      const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
      const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
      return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
    } catch {
      return undefined;
    }
  }

  /** User + system CPU seconds the process has used so far; undefined where there is no /proc. */
  cpuSeconds(): number | undefined {
    if (this.child.pid === undefined || this.child.exitCode !== null) return undefined;
    return processCpuSeconds(this.child.pid);
  }

  /** SIGTERM (graceful drain), then SIGKILL if it lingers; resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), CHILD_LIMITS.stopTimeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
