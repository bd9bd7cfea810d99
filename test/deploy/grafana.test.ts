import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DASHBOARD, RULE_FILES, dashboardQueries, exportedNames, metricNames, readRules, recordedNames, ruleQueries, unknownMetrics } from './promql.js';

/**
 * deploy/grafana/agora.json: its rows, that every query parses as PromQL, and that the name check
 * (run against a live cluster's /metrics in prometheus.test.ts) catches a metric nobody exports.
 */

interface Dashboard {
  panels: { id: number; type: string; title: string; targets?: { expr: string }[] }[];
  templating: { list: { name: string; query?: unknown }[] };
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
const rules = RULE_FILES.map(readRules);

describe('the Grafana dashboard', () => {
  it('has the overview, per-service (templated by service), saga and messaging, and cluster health rows', () => {
    expect(dashboard.panels.filter((p) => p.type === 'row').map((p) => p.title)).toEqual(['Overview', 'Per service: $service', 'Saga and messaging', 'Cluster health']);
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'service']);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('every query of the dashboard and of the rules parses as PromQL and names at least one metric', () => {
    const queries = [...dashboardQueries(dashboard), ...ruleQueries(rules)];
    expect(queries.length).toBeGreaterThan(30);
    for (const q of queries) expect(metricNames(q.expr).length, `${q.where}: ${q.expr}`).toBeGreaterThan(0);
  });

  it('the name check catches a misspelled metric and a syntax error', () => {
    const exported = exportedNames('# HELP agora_orders_total x\n# TYPE agora_orders_total counter\n# TYPE agora_saga_duration_seconds histogram\n');
    const recorded = recordedNames(rules);
    expect(unknownMetrics([{ where: 'ok', expr: 'sum(rate(agora_orders_total[5m])) / sum(rate(agora_saga_duration_seconds_count[5m])) and up' }], exported, recorded)).toEqual([]);
    expect(unknownMetrics([{ where: 'panel "typo"', expr: 'sum by (status) (rate(agora_order_total[5m]))' }], exported, recorded)).toEqual(['agora_order_total (panel "typo")']);
    expect(unknownMetrics([{ where: 'rule', expr: 'service:agora_http_error_ratio:rate5m > 0 or service:agora_http_eror_ratio:rate5m' }], exported, recorded)).toEqual(['service:agora_http_eror_ratio:rate5m (rule)']);
    expect(() => metricNames('sum(rate(agora_orders_total[5m])')).toThrow(/syntax error/);
  });
});
