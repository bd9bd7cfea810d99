import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { freePort } from '@agora/platform/testing';
import { PROMETHEUS_DIR } from './promql.js';

/** Debian's prometheus package (.ci/run installs it). */
export const PROMETHEUS_BIN = '/usr/bin/prometheus';
export const PROMTOOL_BIN = '/usr/bin/promtool';

/** Present, or (AGORA_REQUIRE_SERVICES=1) a failure: a missing binary must not pass quietly. */
export function prometheusInstalled(): boolean {
  const present = existsSync(PROMETHEUS_BIN) && existsSync(PROMTOOL_BIN);
  if (!present && process.env.AGORA_REQUIRE_SERVICES === '1') throw new Error(`${PROMETHEUS_BIN} and ${PROMTOOL_BIN} are required (apt-get install prometheus; .ci/run does)`);
  return present;
}

/** The address deploy/prometheus/prometheus.yml names for the gateway (agora's default PORT). */
const SHIPPED_GATEWAY = '127.0.0.1:8080';
/** Scrapes and rule evaluations this often in tests, so a test waits seconds, not minutes. */
const TEST_INTERVAL = '1s';

export interface RunningPrometheus {
  url: string;
  /** An instant query's result vector. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  targets(): Promise<{ labels: Record<string, string>; health: string; lastError: string; scrapeUrl: string }[]>;
  output(): string;
  stop(): Promise<void>;
}


/**
 * Starts Prometheus on its own port and temporary storage with the shipped prometheus.yml, the
 * gateway's address put where the file has agora's default one, the rule files by absolute path
 * and the intervals shortened for a test.
 */
export async function startPrometheus(gateway: string): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'agora-prometheus-'));
  const shipped = readFileSync(join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8');
  if (!shipped.includes(SHIPPED_GATEWAY)) throw new Error(`prometheus.yml no longer names ${SHIPPED_GATEWAY}`);
  const config = parseYaml(shipped.replaceAll(SHIPPED_GATEWAY, new URL(gateway).host)) as {
    global: Record<string, string>;
    rule_files: string[];
    scrape_configs: { http_sd_configs?: { refresh_interval?: string }[] }[];
  };
  config.global = { ...config.global, scrape_interval: TEST_INTERVAL, scrape_timeout: TEST_INTERVAL, evaluation_interval: TEST_INTERVAL };
  config.rule_files = config.rule_files.map((f) => join(PROMETHEUS_DIR, f));
  for (const job of config.scrape_configs) for (const sd of job.http_sd_configs ?? []) sd.refresh_interval = TEST_INTERVAL;
  writeFileSync(join(dir, 'prometheus.yml'), stringifyYaml(config));
  const port = await freePort();
  const child: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? res.status}`);
    return body.data;
  };
  return {
    url,
    query: async (expr) => (await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result,
    targets: async () => (await api<{ activeTargets: { labels: Record<string, string>; health: string; lastError: string; scrapeUrl: string }[] }>('/api/v1/targets?state=active')).activeTargets,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
