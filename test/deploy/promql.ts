import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parser } from '@prometheus-io/lezer-promql';
import { parse as parseYaml } from 'yaml';

/**
 * Reading the PromQL of deploy/prometheus and deploy/grafana, and checking it against what a
 * running Agora exports: every metric a query names must be a series some process serves (or a
 * recording rule's output, or one Prometheus makes itself).
 */

export const DEPLOY = fileURLToPath(new URL('../../deploy/', import.meta.url));
export const PROMETHEUS_DIR = `${DEPLOY}prometheus/`;
export const DASHBOARD = `${DEPLOY}grafana/agora.json`;
export const RULE_FILES = [`${PROMETHEUS_DIR}rules/recording.yml`, `${PROMETHEUS_DIR}rules/alerts.yml`];

/** Series Prometheus itself adds to every target. */
export const PROMETHEUS_MADE = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_series_added', 'scrape_samples_post_metric_relabeling']);

export interface Query {
  /** Where it is: a panel title or a rule name. */
  where: string;
  expr: string;
}

/** The metric names an expression selects; throws on a syntax error (lezer marks it with an error node). */
export function metricNames(expr: string): string[] {
  const tree = parser.parse(expr);
  const names = new Set<string>();
  let error: number | undefined;
  tree.iterate({
    enter(node) {
      if (node.type.isError) error ??= node.from;
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') names.add(expr.slice(node.from, node.to));
    },
  });
  if (error !== undefined) throw new Error(`PromQL syntax error at ${error}: ${expr}`);
  return [...names];
}

interface Panel {
  title?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

/** Every query of a Grafana dashboard: its panels' targets (rows' nested panels too) and the variables' metrics. */
export function dashboardQueries(dashboard: { panels?: Panel[]; templating?: { list?: { name: string; query?: unknown }[] } }): Query[] {
  const queries: Query[] = [];
  const walk = (panels: Panel[] | undefined): void => {
    for (const panel of panels ?? []) {
      for (const target of panel.targets ?? []) if (target.expr) queries.push({ where: `panel "${panel.title ?? '?'}"`, expr: target.expr });
      walk(panel.panels);
    }
  };
  walk(dashboard.panels);
  for (const variable of dashboard.templating?.list ?? []) {
    const text = typeof variable.query === 'string' ? variable.query : (variable.query as { query?: string } | undefined)?.query;
    // label_values(metric, label) is Grafana's, not PromQL: its first argument is a selector.
    const selector = text?.match(/^label_values\((.+),\s*\w+\)$/)?.[1];
    if (selector) queries.push({ where: `variable $${variable.name}`, expr: selector });
  }
  return queries;
}

interface RuleFile {
  groups: { name: string; rules: { record?: string; alert?: string; expr: string }[] }[];
}

export function readRules(path: string): RuleFile {
  return parseYaml(readFileSync(path, 'utf8')) as RuleFile;
}

export function ruleQueries(files: readonly RuleFile[]): Query[] {
  return files.flatMap((f) => f.groups.flatMap((g) => g.rules.map((r) => ({ where: `rule ${r.record ?? r.alert ?? '?'}`, expr: r.expr }))));
}

export function recordedNames(files: readonly RuleFile[]): Set<string> {
  return new Set(files.flatMap((f) => f.groups.flatMap((g) => g.rules.flatMap((r) => (r.record ? [r.record] : [])))));
}

/** Metric names a /metrics text declares (# TYPE), with a histogram's and a summary's series names. */
export function exportedNames(metricsText: string): Set<string> {
  const names = new Set<string>();
  for (const line of metricsText.split('\n')) {
    const typed = line.match(/^# TYPE (\S+) (\S+)/);
    if (!typed) continue;
    const [, name = '', type] = typed;
    names.add(name);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix);
  }
  return names;
}

/** The queries' metric names that are neither exported, recorded nor Prometheus's own, as "name (where)". */
export function unknownMetrics(queries: readonly Query[], exported: ReadonlySet<string>, recorded: ReadonlySet<string>): string[] {
  return queries.flatMap((q) => metricNames(q.expr).filter((name) => !exported.has(name) && !recorded.has(name) && !PROMETHEUS_MADE.has(name)).map((name) => `${name} (${q.where})`));
}
