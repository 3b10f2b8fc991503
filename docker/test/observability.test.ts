// Dashboards and alerts are built on the metrics authz really exports (authz/src/metrics.ts),
// the alert rules are valid and fire on their signals (promtool), and the Grafana provisioning
// wires the datasources the dashboard uses.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { registry } from '../../authz/src/metrics.js';
import { ROOT, TOOLS_BIN } from '../../testing/tools.js';

const DOCKER = join(ROOT, 'docker');
const PROMTOOL = join(TOOLS_BIN, 'promtool');

/** Series names authz exports: from the live registry, histograms expanded to their series. */
async function exportedSeries(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const m of await registry.getMetricsAsJSON()) {
    // prom-client types `type` as an enum; at run time it is the exposition type string.
    const type = String(m.type);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
    else if (type === 'summary') for (const s of ['', '_sum', '_count']) names.add(m.name + s);
    else names.add(m.name);
  }
  return names;
}

/** The `name: 'mem0gov_…'` literals of metrics.ts (the file the brief names as the contract). */
function declaredInSource(): string[] {
  const src = readFileSync(join(ROOT, 'authz', 'src', 'metrics.ts'), 'utf8');
  return [...src.matchAll(/name:\s*'(mem0gov_[a-z0-9_]+)'/g)].map((m) => m[1]!);
}

/** Series added by Prometheus itself, not by authz. */
const PROMETHEUS_SERIES = new Set(['up']);
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/** Metric names a PromQL expression selects (functions, label names, keywords removed). */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // string literals
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // range / subquery durations, incl. $__rate_interval
    .replace(/\boffset\s+-?(?:\d+(?:ms|[smhdwy]))+/gi, '') // offset modifiers (their durations are not names)
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '') // grouping labels
    .replace(/\b\d+(\.\d+)?(e[+-]?\d+)?\b/gi, ''); // numbers, incl. 1e-9
  const names: string[] = [];
  for (const m of stripped.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    if (m[2] !== undefined) continue; // a function call
    const id = m[1]!;
    if (KEYWORDS.has(id.toLowerCase()) || /^\d/.test(id)) continue;
    names.push(id);
  }
  return names;
}

interface Rule { alert?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
const alertsDoc = parse(readFileSync(join(DOCKER, 'prometheus', 'alerts.yaml'), 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
const rules = alertsDoc.groups.flatMap((g) => g.rules);

interface Panel { type: string; id: number; title: string; datasource?: { type: string; uid: string }; targets?: { expr: string; datasource?: { type: string; uid: string } }[]; panels?: Panel[] }
const dashboard = JSON.parse(readFileSync(join(DOCKER, 'grafana', 'dashboards', 'mem0-gov.json'), 'utf8')) as { uid: string; panels: Panel[] };
const allPanels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const promTargets = allPanels.flatMap((p) => (p.targets ?? []).filter((t) => (t.datasource ?? p.datasource)?.type === 'prometheus').map((t) => ({ panel: p.title, expr: t.expr })));

describe('metric names', () => {
  it('the extractor finds metric names and ignores functions, labels and keywords', () => {
    expect(metricNames('sum by (tenant) (increase(mem0gov_x_total{a="b(c)"}[5m])) > 0 or absent(up{job="j"})')).toEqual(['mem0gov_x_total', 'up']);
    expect(metricNames('histogram_quantile(0.99, sum by (le) (rate(m_bucket[$__rate_interval]))) / clamp_min(n, 1e-9)')).toEqual(['m_bucket', 'n']);
    expect(metricNames('sum by (t) (x_total unless x_total offset 5m) or y offset 1h30m')).toEqual(['x_total', 'x_total', 'y']);
  });

  it('metrics.ts literals are what the registry exports', async () => {
    const series = await exportedSeries();
    const declared = declaredInSource();
    expect(declared.length).toBeGreaterThanOrEqual(12);
    for (const n of declared) expect([n, `${n}_bucket`].some((s) => series.has(s)), n).toBe(true);
  });

  it('every metric an alert rule uses is exported by authz', async () => {
    const series = await exportedSeries();
    for (const r of rules) {
      const names = metricNames(r.expr);
      expect(names.length, r.alert).toBeGreaterThan(0);
      for (const n of names) expect(series.has(n) || PROMETHEUS_SERIES.has(n), `${r.alert}: ${n}`).toBe(true);
    }
  });

  it('every metric a dashboard panel queries is exported by authz', async () => {
    const series = await exportedSeries();
    expect(promTargets.length).toBeGreaterThan(15);
    for (const t of promTargets) {
      const names = metricNames(t.expr);
      expect(names.length, t.panel).toBeGreaterThan(0);
      for (const n of names) expect(series.has(n) || PROMETHEUS_SERIES.has(n), `${t.panel}: ${n}`).toBe(true);
    }
  });
});

describe('docker/grafana/dashboards/mem0-gov.json', () => {
  const used = new Set(promTargets.flatMap((t) => metricNames(t.expr)));

  it('covers decisions, latency per stage, dependencies, audit, policy and the security signals', () => {
    for (const n of ['mem0gov_decisions_total', 'mem0gov_check_duration_seconds_bucket', 'mem0gov_dependency_up', 'mem0gov_redis_failure_mode_total',
      'mem0gov_audit_queue_depth', 'mem0gov_audit_spool_depth', 'mem0gov_audit_chain_verify_failures_total', 'mem0gov_policy_revision_info',
      'mem0gov_policy_reloads_total', 'mem0gov_cross_tenant_attempts_total', 'mem0gov_revoked_credential_use_total', 'mem0gov_break_glass_requests_total']) {
      expect(used.has(n), n).toBe(true);
    }
    expect(promTargets.some((t) => /by \(le, stage\)/.test(t.expr) && /mem0gov_check_duration_seconds_bucket/.test(t.expr))).toBe(true);
    expect(promTargets.some((t) => /by \(decision, reason\)/.test(t.expr))).toBe(true);
  });

  it('has unique panel ids and uses only provisioned datasources', () => {
    const ids = allPanels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const ds = parse(readFileSync(join(DOCKER, 'grafana', 'provisioning', 'datasources', 'datasources.yaml'), 'utf8')) as { datasources: { uid: string; type: string; url: string }[] };
    const provisioned = new Set(ds.datasources.map((d) => `${d.type}/${d.uid}`));
    for (const p of allPanels) {
      if (p.datasource) expect(provisioned.has(`${p.datasource.type}/${p.datasource.uid}`), p.title).toBe(true);
    }
    expect(ds.datasources.map((d) => d.url).sort()).toEqual(['http://loki:3100', 'http://prometheus:9090']);
  });

  it('is loaded by the provisioning provider from the folder compose mounts', () => {
    const prov = parse(readFileSync(join(DOCKER, 'grafana', 'provisioning', 'dashboards', 'dashboards.yaml'), 'utf8')) as { providers: { options: { path: string } }[] };
    const compose = readFileSync(join(DOCKER, 'compose.yaml'), 'utf8');
    expect(compose).toContain(`source: ./grafana/dashboards\n        target: ${prov.providers[0]!.options.path}`);
  });

  it('queries logs by the label the log shipper sets', () => {
    const alloy = readFileSync(join(DOCKER, 'alloy', 'config.alloy'), 'utf8');
    expect(alloy).toMatch(/container = "attrs\.tag"/);
    const loki = allPanels.flatMap((p) => (p.datasource?.type === 'loki' ? p.targets ?? [] : []));
    expect(loki.length).toBeGreaterThan(0);
    for (const t of loki) expect(t.expr).toMatch(/^\{container=~"mem0-gov-/);
  });
});

describe('docker/prometheus/alerts.yaml', () => {
  const required = ['Mem0GovDenialSpike', 'Mem0GovCrossTenantAttempt', 'Mem0GovRevokedCredentialUse', 'Mem0GovBreakGlassUse',
    'Mem0GovAuditSpoolNotEmpty', 'Mem0GovAuditChainVerifyFailure', 'Mem0GovAuthzDown'];

  it('has the incident-response alerts, each with expr, for, labels and annotations', () => {
    const names = rules.map((r) => r.alert);
    for (const n of required) expect(names, n).toContain(n);
    for (const r of rules) {
      expect(r.alert, 'recording rules belong elsewhere').toBeDefined();
      expect(typeof r.expr).toBe('string');
      expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
      expect(['page', 'ticket'], r.alert).toContain(r.labels?.severity);
      expect(r.labels?.signal, r.alert).toBeDefined();
      for (const a of ['summary', 'description', 'runbook']) expect(r.annotations?.[a], `${r.alert}.${a}`).toBeTruthy();
    }
  });

  it('points every runbook link at a section of compliance/incident-response.md', () => {
    const playbook = readFileSync(join(ROOT, 'compliance', 'incident-response.md'), 'utf8');
    for (const r of rules) {
      const [file, anchor] = r.annotations!.runbook!.split('#');
      expect(file).toBe('compliance/incident-response.md');
      expect(playbook, `${r.alert} → #${anchor}`).toContain(`<a id="${anchor}"></a>`);
    }
  });

  it('passes promtool check (rules and the Prometheus config that loads them)', () => {
    expect(existsSync(PROMTOOL), `${PROMTOOL} missing: install promtool (see docker/README.md)`).toBe(true);
    const rulesOut = execFileSync(PROMTOOL, ['check', 'rules', join(DOCKER, 'prometheus', 'alerts.yaml')], { encoding: 'utf8' });
    expect(rulesOut).toContain(`SUCCESS: ${rules.length} rules found`);
    execFileSync(PROMTOOL, ['check', 'config', '--syntax-only', join(DOCKER, 'prometheus', 'prometheus.yml')], { stdio: 'pipe' });
  });

  it('fires on each signal and stays silent on normal traffic (promtool test rules)', () => {
    const out = execFileSync(PROMTOOL, ['test', 'rules', join(DOCKER, 'test', 'alerts.promtool.yaml')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out).toContain('SUCCESS');
    // Every alert is exercised by at least one firing case.
    const tests = readFileSync(join(DOCKER, 'test', 'alerts.promtool.yaml'), 'utf8');
    for (const r of rules) expect(tests, r.alert).toMatch(new RegExp(`alertname: ${r.alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels`));
  });
});
