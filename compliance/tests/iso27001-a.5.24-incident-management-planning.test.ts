// ISO/IEC 27001:2022 A.5.24 incident management planning: every alert rule links a runbook
// section that exists in the playbook. (That the playbook's commands run as written is asserted
// in soc2-cc7.4-incident-response.test.ts.)
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { repoFile } from './helpers.js';

interface Rules { groups: Array<{ rules: Array<{ alert?: string; annotations?: Record<string, string> }> }> }

describe('A.5.24 incident management planning', () => {
  it('every alert names a runbook anchor present in compliance/incident-response.md', () => {
    const playbook = repoFile('compliance/incident-response.md');
    const anchors = new Set([...playbook.matchAll(/<a id="([^"]+)"><\/a>/g)].map((m) => m[1]!));
    const alerts = (parse(repoFile('docker/prometheus/alerts.yaml')) as Rules).groups.flatMap((g) => g.rules).filter((r) => r.alert);
    expect(alerts.length).toBeGreaterThanOrEqual(6);
    for (const a of alerts) {
      const runbook = a.annotations?.runbook ?? '';
      expect(runbook, a.alert).toMatch(/^compliance\/incident-response\.md#/);
      expect(anchors.has(runbook.split('#')[1]!), `${a.alert}: ${runbook}`).toBe(true);
    }
  });

  it('the playbook covers containment, evidence and recovery', () => {
    const playbook = repoFile('compliance/incident-response.md');
    for (const heading of ['**Contain**', '**Preserve evidence**', '**Scope**', '## After the incident']) expect(playbook, heading).toContain(heading);
  });
});
