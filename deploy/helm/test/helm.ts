// The real helm and kubeconform from scripts/bootstrap.sh, and the offline schemas it prepared
// (.tools/k8s-schemas): render the chart, parse what it renders, validate it.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { ROOT, TOOLS_BIN } from '../../../testing/tools.js';

export const CHART = join(ROOT, 'deploy', 'helm', 'mem0-gov');
export const HELM = join(TOOLS_BIN, 'helm');
export const KUBECONFORM = join(TOOLS_BIN, 'kubeconform');
export const SCHEMAS = join(ROOT, '.tools', 'k8s-schemas');
/** The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schema set. */
export const KUBE_VERSIONS = ['1.29.0', '1.37.0'] as const;

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- manifests are checked field by field
  data?: Record<string, string>;
}

export function requireTools(): void {
  for (const p of [HELM, KUBECONFORM, join(SCHEMAS, '.stamp')]) {
    if (!existsSync(p)) throw new Error(`${p} missing: run \`npm run bootstrap\` (scripts/bootstrap.sh)`);
  }
}

interface Exec { code: number; stdout: string; stderr: string }

function exec(cmd: string, args: string[]): Promise<Exec> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: ROOT, maxBuffer: 64 << 20, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1, stdout, stderr }));
  });
}

export interface RenderOptions {
  release?: string;
  namespace?: string;
  values?: string[];
  set?: string[];
  /** --set-json: a typed value (a float such as 12.5; --set would make it a string). */
  setJson?: string[];
  kubeVersion?: string;
}

function templateArgs(o: RenderOptions): string[] {
  return [
    'template', o.release ?? 'mem0-gov', CHART, '--namespace', o.namespace ?? 'mem0-gov',
    '--kube-version', o.kubeVersion ?? KUBE_VERSIONS[0],
    ...(o.values ?? []).flatMap((v) => ['--values', v]),
    ...(o.set ?? []).flatMap((s) => ['--set', s]),
    ...(o.setJson ?? []).flatMap((s) => ['--set-json', s]),
  ];
}

export interface Rendered { text: string; objects: K8sObject[] }

/** `helm template`; throws with helm's message when it fails. */
export async function render(o: RenderOptions = {}): Promise<Rendered> {
  const r = await exec(HELM, templateArgs(o));
  if (r.code !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  const objects = parseAllDocuments(r.stdout).map((d) => {
    if (d.errors.length > 0) throw new Error(`helm output is not YAML: ${d.errors[0]!.message}`);
    return d.toJSON() as K8sObject | null;
  }).filter((x): x is K8sObject => x !== null);
  return { text: r.stdout, objects };
}

/** `helm template` expected to fail: its stderr. */
export async function renderError(o: RenderOptions): Promise<string> {
  const r = await exec(HELM, templateArgs(o));
  if (r.code === 0) throw new Error('helm template succeeded, a failure was expected');
  return r.stderr;
}

/**
 * templates/NOTES.txt as `helm install` would print it (`helm template` leaves NOTES out): a copy
 * of the chart renders it through `tpl` into a ConfigMap.
 */
export async function renderNotes(o: RenderOptions = {}): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'mem0gov-notes-'));
  try {
    const chart = join(dir, 'mem0-gov');
    cpSync(CHART, chart, { recursive: true });
    writeFileSync(join(chart, 'files', 'notes-under-test.txt'), readFileSync(join(CHART, 'templates', 'NOTES.txt'), 'utf8'));
    writeFileSync(join(chart, 'templates', 'zz-notes-under-test.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: notes }\ndata:\n  notes: {{ tpl (.Files.Get "files/notes-under-test.txt") . | toJson }}\n');
    const args = templateArgs(o);
    args[2] = chart;
    const r = await exec(HELM, [...args, '--show-only', 'templates/zz-notes-under-test.yaml']);
    if (r.code !== 0) throw new Error(`helm template (NOTES) failed: ${r.stderr}`);
    return (parse(r.stdout) as { data: { notes: string } }).data.notes;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function lint(o: RenderOptions = {}): Promise<Exec> {
  return exec(HELM, ['lint', '--strict', CHART, '--namespace', o.namespace ?? 'mem0-gov', '--kube-version', o.kubeVersion ?? KUBE_VERSIONS[0],
    ...(o.values ?? []).flatMap((v) => ['--values', v]), ...(o.set ?? []).flatMap((s) => ['--set', s])]);
}

export interface Verdict { filename: string; kind: string; name: string; version: string; status: string; msg: string }
export interface Validation { resources: Verdict[]; summary: { valid: number; invalid: number; errors: number; skipped: number } }

/**
 * kubeconform -strict against the offline schemas: Kubernetes kinds from the kubernetes-validate
 * schemas of `kubeVersion`, CRDs (ServiceMonitor, PrometheusRule, Istio) from .tools/k8s-schemas/crds.
 * A kind without a schema is an error, never skipped.
 */
export async function validate(manifests: string, kubeVersion: string): Promise<Validation> {
  const dir = mkdtempSync(join(tmpdir(), 'mem0gov-kubeconform-'));
  try {
    const file = join(dir, 'manifests.yaml');
    writeFileSync(file, manifests);
    const r = await exec(KUBECONFORM, [
      '-strict', '-summary', '-verbose', '-output', 'json', '-kubernetes-version', kubeVersion,
      '-schema-location', join(SCHEMAS, '{{ .NormalizedKubernetesVersion }}-local-strict/{{ .ResourceKind }}{{ .KindSuffix }}.json'),
      '-schema-location', join(SCHEMAS, 'crds/{{ .Group }}_{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json'),
      file,
    ]);
    try {
      return JSON.parse(r.stdout) as Validation;
    } catch {
      throw new Error(`kubeconform (exit ${r.code}) printed no JSON: ${r.stdout}${r.stderr}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
