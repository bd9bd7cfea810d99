import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { DEPLOY, PROMETHEUS_DIR, RULE_FILES, readRules } from './promql.js';
import { PROMTOOL_BIN, prometheusInstalled } from './prometheus-server.js';

/** deploy/prometheus as promtool sees it, and what its files promise each other (runbooks, Kubernetes annotations). */

const OPERATIONS = join(DEPLOY, '..', 'docs', 'operations.md');

const promtool = (...args: string[]): string => execFileSync(PROMTOOL_BIN, args, { cwd: PROMETHEUS_DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** GitHub's anchor of a Markdown heading. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-');
}

describe.runIf(prometheusInstalled())('deploy/prometheus with promtool', () => {
  it('promtool check config accepts prometheus.yml and its rule files', () => {
    expect(promtool('check', 'config', 'prometheus.yml')).toMatch(/SUCCESS: prometheus.yml is valid/);
  });

  it('promtool check rules accepts the recording and alert rules', () => {
    expect(promtool('check', 'rules', 'rules/recording.yml', 'rules/alerts.yml')).toMatch(/SUCCESS: 21 rules found[\s\S]*SUCCESS: 11 rules found/);
  });

  it('promtool test rules: burn-rate, latency burn, instance-down and reservation-leak alerts fire (and not before)', () => {
    expect(promtool('test', 'rules', 'tests/alerts.test.yml')).toMatch(/SUCCESS/);
  });
});

describe('what the Prometheus files promise', () => {
  it('every alert has a summary, a description and a runbook section that exists in docs/operations.md', () => {
    const headings = new Set(
      readFileSync(OPERATIONS, 'utf8')
        .split('\n')
        .filter((line) => line.startsWith('#'))
        .map((line) => anchor(line.replace(/^#+/, ''))),
    );
    const alerts = RULE_FILES.map(readRules).flatMap((f) => f.groups.flatMap((g) => g.rules.filter((r) => r.alert))) as { alert: string; annotations?: Record<string, string> }[];
    expect(alerts.length).toBeGreaterThanOrEqual(9);
    for (const rule of alerts) {
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.description, rule.alert).toBeTruthy();
      const [file, section] = (rule.annotations?.runbook_url ?? '').split('#');
      expect(file, rule.alert).toBe('docs/operations.md');
      expect(headings.has(section ?? ''), `${rule.alert}: docs/operations.md has no section #${section}`).toBe(true);
    }
  });

  it('the Kubernetes scrape config reads the annotations every Deployment of deploy/k8s sets', () => {
    const config = parseYaml(readFileSync(join(PROMETHEUS_DIR, 'prometheus-kubernetes.yml'), 'utf8')) as { scrape_configs: { relabel_configs: { source_labels?: string[] }[] }[] };
    const read = new Set(config.scrape_configs.flatMap((c) => c.relabel_configs.flatMap((r) => r.source_labels ?? [])));
    for (const label of ['prometheus_io_scrape', 'prometheus_io_port', 'prometheus_io_path']) expect(read.has(`__meta_kubernetes_pod_annotation_${label}`)).toBe(true);
    expect(read.has('__meta_kubernetes_pod_label_app_kubernetes_io_component')).toBe(true);
    const dir = join(DEPLOY, 'k8s', 'services');
    const deployments = readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .flatMap((f) => readFileSync(join(dir, f), 'utf8').split(/^---$/m).map((doc) => parseYaml(doc) as { kind?: string; metadata?: { name?: string }; spec?: { template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> } } } }))
      .filter((doc) => doc?.kind === 'Deployment');
    expect(deployments.length).toBeGreaterThanOrEqual(7);
    for (const d of deployments) {
      const pod = d.spec?.template?.metadata;
      expect(pod?.annotations?.['prometheus.io/scrape'], d.metadata?.name).toBe('true');
      expect(pod?.annotations?.['prometheus.io/port'], d.metadata?.name).toMatch(/^\d+$/);
      expect(pod?.annotations?.['prometheus.io/path'], d.metadata?.name).toBe('/metrics');
      expect(pod?.labels?.['app.kubernetes.io/component'], d.metadata?.name).toBeTruthy();
    }
  });
});
