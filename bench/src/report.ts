import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageFile } from '@agora/platform';
import type { CheckoutReport } from './checkout.js';

/** bench/results (gitignored): every run leaves its JSON there. */
export const RESULTS_DIR = packageFile(import.meta.url, 'results/');

export function writeResult(report: CheckoutReport, dir: string = RESULTS_DIR): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${report.scenario}-${report.storage}-${report.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

function fmt(value: number | null, unit = ''): string {
  if (value === null || !Number.isFinite(value)) return 'n/a';
  return `${value.toLocaleString('en-US', { maximumFractionDigits: 2 })}${unit}`;
}

/** The readable table the CLI prints. */
export function formatCheckoutTable(r: CheckoutReport): string {
  const rows: [string, string][] = [
    ['scenario', `checkout (add-to-cart + checkout through the gateway)`],
    ['storage', r.storage === 'postgres' ? 'PostgreSQL (fresh database for the run)' : 'embedded PGlite (temporary directory)'],
    ['buyers / SKUs', `${r.buyers} concurrent / ${r.skus}`],
    ['measured', `${fmt(r.durationS, ' s')} after a ${fmt(r.warmupS, ' s')} warm-up`],
    ['checkouts', fmt(r.checkouts)],
    ['checkouts/s', fmt(r.checkoutsPerSec)],
    ['latency p50 / p90 / p99 / max', `${fmt(r.p50Ms)} / ${fmt(r.p90Ms)} / ${fmt(r.p99Ms)} / ${fmt(r.maxMs)} ms`],
    ['  add-to-cart p50 / p99', `${fmt(r.addToCartP50Ms)} / ${fmt(r.addToCartP99Ms)} ms`],
    ['  checkout call p50 / p99', `${fmt(r.checkoutCallP50Ms)} / ${fmt(r.checkoutCallP99Ms)} ms`],
    ['answered 202 (still running)', `${r.accepted202} of ${r.checkoutsIncludingWarmup} checkouts (warm-up included; counted as successes)`],
    ['errors', `${r.errors}${Object.keys(r.errorKinds).length > 0 ? `  ${JSON.stringify(r.errorKinds)}` : ''}`],
    ['baseline (bare Fastify) req/s', `${fmt(r.baselineReqPerSec)}  (p50 ${fmt(r.baseline.p50Ms)} ms, p99 ${fmt(r.baseline.p99Ms)} ms)`],
    ['ratio checkouts/s ÷ baseline req/s', r.ratio > 0 ? `${r.ratio.toPrecision(3)}  (one checkout costs ~${fmt(Math.round(1 / r.ratio))} bare requests)` : 'n/a'],
    ['server RSS start / idle / end / peak', `${fmt(r.rssStartMb)} / ${fmt(r.rssIdleMb)} / ${fmt(r.rssEndMb)} / ${fmt(r.rssPeakMb)} MB`],
    ['server CPU (measured phase)', `${fmt(r.serverCpuPct, ' %')} of one core, ${fmt(r.serverCpuMsPerCheckout)} ms per checkout`],
    ['PostgreSQL CPU (the run\'s backends)', r.databaseCpuPct === null ? 'n/a' : `${fmt(r.databaseCpuPct, ' %')} of one core, ${fmt(r.databaseCpuMsPerCheckout)} ms per checkout`],
    ['machine CPU / load generator CPU', `${fmt(r.machineCpuPct, ' %')} / ${fmt(r.loadGeneratorCpuPct, ' %')} (100 % = one core; ${r.machine.cpus} cores)`],
    ['machine load average before the run', fmt(r.machine.loadAverage1mBefore)],
    ['stock check', stockCheck(r)],
    ...(r.sql ? ([['SQL per checkout (--count-sql)', `${r.sql.statementsPerCheckout} statements; ${r.sql.transactionsPerCheckout} explicit transactions + ${r.sql.autocommitWritesPerCheckout} autocommitted writes`]] as [string, string][]) : []),
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`).join('\n');
}

function stockCheck(r: CheckoutReport): string {
  if (r.unitsSold === null) return 'n/a';
  if (r.errors > 0 || Object.keys(r.errorKinds).length > 0) return `${r.unitsSold} units sold (not compared: some checkouts failed)`;
  return r.unitsSold === r.unitsOrdered
    ? `ok: ${r.unitsSold} units sold = units of the ${r.checkoutsIncludingWarmup} orders (warm-up included)`
    : `MISMATCH: ${r.unitsSold} units sold but the ${r.checkoutsIncludingWarmup} orders hold ${r.unitsOrdered}`;
}
