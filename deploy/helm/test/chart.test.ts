// deploy/helm/mem0-gov rendered by the real helm (scripts/bootstrap.sh) for the default values,
// the Istio mesh variant (deploy/helm/examples/values-istio.yaml), a values file that sets
// every external-service knob (test/values-external.yaml), and tracing plus a shadow policy
// (test/values-tracing-shadow.yaml) alone and on top of the external one; every manifest validated offline by
// kubeconform against the Kubernetes API schemas (oldest supported and newest version) and the
// CRD schemas; then the properties a deployment relies on, each asserted on the rendered objects.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { promisify } from 'node:util';
import { parse, parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadAuditConfig } from '../../../authz/src/audit/config.js';
import { loadOtelConfig } from '../../../authz/src/config/otel.js';
import { loadPolicyConfig } from '../../../authz/src/policy/config.js';
import { unknownVariables } from '../../../authz/src/config/spec.js';
import { loadConfig } from '../../../authz/src/service-config.js';
import { generateDevCerts } from '../../../testing/certs.js';
import { ROOT, tool } from '../../../testing/tools.js';
import { IMAGE_GID, IMAGE_UID, LAYOUT } from '../../image/layout.js';
import { chartEnvoyConfig, ENVOY_POD, generatedFiles, TOKENS } from '../generate.js';
import { CHART, KUBE_VERSIONS, lint, render, renderError, renderNotes, requireTools, validate, type K8sObject, type RenderOptions, type Rendered } from './helm.js';

const execFileP = promisify(execFile);
const ISTIO_VALUES = join(ROOT, 'deploy', 'helm', 'examples', 'values-istio.yaml');
const EXTERNAL_VALUES = join(ROOT, 'deploy', 'helm', 'test', 'values-external.yaml');
const TRACED_VALUES = join(ROOT, 'deploy', 'helm', 'test', 'values-tracing-shadow.yaml');

/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects, checked field by field */
type Any = any;

const byKind = (r: Rendered, kind: string): K8sObject[] => r.objects.filter((o) => o.kind === kind);
const one = (r: Rendered, kind: string, name: string): K8sObject => {
  const found = r.objects.filter((o) => o.kind === kind && o.metadata.name === name);
  expect(found.map((o) => `${o.kind}/${o.metadata.name}`), `${kind}/${name}`).toHaveLength(1);
  return found[0]!;
};
const matches = (selector: Record<string, string>, labels: Record<string, string> | undefined): boolean =>
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);
const containers = (podSpec: Any): Any[] => [...(podSpec.initContainers ?? []), ...podSpec.containers];
const envOf = (c: Any): Record<string, Any> => Object.fromEntries((c.env ?? []).map((e: Any) => [e.name, e]));
/** Resolves a named container port (NetworkPolicy, probes, Service targetPort) to its number. */
const portNumber = (podSpec: Any, port: string | number): number => {
  if (typeof port === 'number') return port;
  const found = containers(podSpec).flatMap((c) => c.ports ?? []).find((p: Any) => p.name === port);
  expect(found, `named port ${port}`).toBeDefined();
  return found.containerPort as number;
};
/** Pod template of a workload (StatefulSet, Deployment, Job). */
const pod = (o: K8sObject): Any => o.spec.template;
/** A cluster of a parsed Envoy config. */
const clusterOf = (cfg: Any, name: string): Any => {
  const found = cfg.static_resources.clusters.filter((c: Any) => c.name === name);
  expect(found, `cluster ${name}`).toHaveLength(1);
  return found[0];
};
/** The admission bound of a parsed Envoy config: the circuit breaker of the cluster ext_authz asks (mem0_gov_authz). */
const admission = (cfg: Any): { max_requests: number; max_pending_requests: number } => {
  const [t, ...more] = clusterOf(cfg, 'mem0_gov_authz').circuit_breakers.thresholds;
  expect(more).toEqual([]);
  return { max_requests: t.max_requests, max_pending_requests: t.max_pending_requests };
};
/** 16 × the authz processes a render runs (StatefulSet replicas × MEM0_GOV_WORKERS): the chart's default bound. */
const sixteenPerProcess = (r: Rendered): number => {
  const sts = byKind(r, 'StatefulSet')[0]!;
  return 16 * sts.spec.replicas * Number(envOf(pod(sts).spec.containers[0]).MEM0_GOV_WORKERS.value);
};

let defaults: Rendered;
let istio: Rendered;
let external: Rendered;
/** values-tracing-shadow.yaml on the defaults, and on values-external.yaml. */
let traced: Rendered;
let tracedExternal: Rendered;
const TRACED_EXTERNAL_OPTS: RenderOptions = { release: 'x', namespace: 'prod', values: [EXTERNAL_VALUES, TRACED_VALUES] };

beforeAll(async () => {
  requireTools();
  [defaults, istio, external, traced, tracedExternal] = await Promise.all([
    render(),
    render({ values: [ISTIO_VALUES] }),
    render({ release: 'x', namespace: 'prod', values: [EXTERNAL_VALUES] }),
    render({ values: [TRACED_VALUES] }),
    render(TRACED_EXTERNAL_OPTS),
  ]);
}, 120_000);

describe('chart sources', () => {
  it('files/ is what deploy/helm/generate.ts makes of envoy/envoy.yaml and docker/prometheus/alerts.yaml', () => {
    for (const [rel, text] of Object.entries(generatedFiles())) {
      expect(readFileSync(join(CHART, rel), 'utf8'), `${rel} is stale: run npm run helm:generate`).toBe(text);
    }
  });

  it('the Envoy templates carry each host/port token only where the ConfigMap template replaces it', () => {
    const plain = readFileSync(join(CHART, 'files', 'envoy.yaml'), 'utf8');
    const tls = readFileSync(join(CHART, 'files', 'envoy-mem0-tls.yaml'), 'utf8');
    const count = (s: string, t: string | number): number => s.split(String(t)).length - 1;
    // three authz clusters: checks (ext_authz, gRPC), the response stage (ext_proc, gRPC) and HTTP
    // (the auditors' /audit/ API)
    expect(count(plain, TOKENS.authzHost)).toBe(3);
    expect(count(plain, `port_value: ${TOKENS.authzPort}`)).toBe(count(plain, TOKENS.authzPort));
    expect(count(plain, TOKENS.mem0Host)).toBe(1);
    expect(count(plain, `port_value: ${TOKENS.mem0Port}`)).toBe(1);
    expect(count(plain, TOKENS.mem0Port)).toBe(1);
    // https: SNI, SAN and Host rewrites name the host too; the CA file once.
    expect(count(tls, `${TOKENS.mem0Host}:${TOKENS.mem0Port}`)).toBeGreaterThan(0);
    expect(count(tls, TOKENS.mem0Port)).toBe(count(tls, `${TOKENS.mem0Host}:${TOKENS.mem0Port}`) + 1);
    expect(count(tls, TOKENS.mem0CaFile)).toBe(1);
    // The bound on checks in flight: the check cluster's two circuit-breaker limits, nothing else.
    for (const [file, text] of [['envoy.yaml', plain], ['envoy-mem0-tls.yaml', tls]] as const) {
      expect(count(text, TOKENS.checksInFlight), file).toBe(2);
      expect(count(text, `max_requests: ${TOKENS.checksInFlight}`), file).toBe(1);
      expect(count(text, `max_pending_requests: ${TOKENS.checksInFlight}`), file).toBe(1);
      expect(admission(parse(text)), file).toEqual({ max_requests: TOKENS.checksInFlight, max_pending_requests: TOKENS.checksInFlight });
    }
    // The traced variants: the same tokens as their untraced twins, plus the collector's host (the
    // tracer's URI and the cluster's address), its port (the same two) and the sampling percentage.
    for (const [untraced, file] of [[plain, 'envoy-tracing.yaml'], [tls, 'envoy-mem0-tls-tracing.yaml']] as const) {
      const traced = readFileSync(join(CHART, 'files', file), 'utf8');
      for (const t of [TOKENS.authzHost, TOKENS.authzPort, TOKENS.mem0Host, TOKENS.mem0Port, TOKENS.mem0CaFile, TOKENS.checksInFlight]) expect(count(traced, t), `${file} ${t}`).toBe(count(untraced, t));
      expect(count(untraced, TOKENS.otlpHost) + count(untraced, TOKENS.otlpPort) + count(untraced, TOKENS.samplingPercent)).toBe(0);
      expect(count(traced, `http://${TOKENS.otlpHost}:${TOKENS.otlpPort}/v1/traces`)).toBe(1);
      expect(count(traced, TOKENS.otlpHost)).toBe(2);
      expect(count(traced, TOKENS.otlpPort)).toBe(2);
      expect(count(traced, `port_value: ${TOKENS.otlpPort}`)).toBe(1);
      expect(count(traced, TOKENS.samplingPercent)).toBe(1);
      expect(count(traced, `value: ${TOKENS.samplingPercent}`)).toBe(1);
    }
  });

  it('passes helm lint --strict for every variant', async () => {
    for (const values of [[], [ISTIO_VALUES], [EXTERNAL_VALUES], [TRACED_VALUES], [EXTERNAL_VALUES, TRACED_VALUES]]) {
      const r = await lint({ values });
      expect(r.code, `${values.join(',')}: ${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout).toContain('0 chart(s) failed');
    }
  });
});

describe('offline schema validation (kubeconform -strict)', () => {
  it.each(KUBE_VERSIONS.flatMap((v) => [['defaults', v], ['istio', v], ['external', v], ['traced', v], ['tracedExternal', v]] as const))('%s values, Kubernetes %s: every manifest valid', async (variant, version) => {
    const r = { defaults, istio, external, traced, tracedExternal }[variant];
    const out = await validate(r.text, version);
    const bad = out.resources.filter((x) => x.status !== 'statusValid');
    expect(bad).toEqual([]);
    expect(out.summary).toEqual({ valid: r.objects.length, invalid: 0, errors: 0, skipped: 0 });
  });

  it('rejects what a typo or a wrong type would render, in Kubernetes and in CRD kinds', async () => {
    const sts = structuredClone(one(defaults, 'StatefulSet', 'mem0-gov-authz')) as Any;
    sts.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true;
    const svc = structuredClone(one(defaults, 'Service', 'mem0-gov-authz')) as Any;
    svc.spec.ports[0].port = '9191';
    const sm = structuredClone(one(defaults, 'ServiceMonitor', 'mem0-gov-authz')) as Any;
    sm.spec.endpoints[0].intervall = '15s';
    const rule = structuredClone(one(defaults, 'PrometheusRule', 'mem0-gov')) as Any;
    rule.spec.groups[0].rules[0].for = 5;
    const ap = structuredClone(one(istio, 'AuthorizationPolicy', 'mem0-gov-ext-authz')) as Any;
    ap.spec.acton = 'CUSTOM';
    const dr = structuredClone(one(istio, 'DestinationRule', 'mem0-gov-authz')) as Any;
    const pool = dr.spec.trafficPolicy.portLevelSettings[0].connectionPool.http;
    pool.http2MaxRequest = pool.http2MaxRequests;
    delete pool.http2MaxRequests;
    const text = [sts, svc, sm, rule, ap, dr].map((o) => JSON.stringify(o)).join('\n---\n');
    const out = await validate(text, KUBE_VERSIONS[1]);
    // kubeconform validates in parallel: index the verdicts by kind.
    const verdict = Object.fromEntries(out.resources.map((x) => [x.kind, x]));
    expect(Object.keys(verdict).sort()).toEqual(['AuthorizationPolicy', 'DestinationRule', 'PrometheusRule', 'Service', 'ServiceMonitor', 'StatefulSet']);
    for (const v of out.resources) expect(v.status, `${v.kind}: ${v.msg}`).toBe('statusInvalid');
    expect(verdict.StatefulSet!.msg).toContain('readOnlyRootFileSystem');
    expect(verdict.Service!.msg).toMatch(/ports\/0\/port.*want integer/);
    expect(verdict.ServiceMonitor!.msg).toContain('intervall');
    expect(verdict.PrometheusRule!.msg).toMatch(/rules\/0\/for/);
    expect(verdict.AuthorizationPolicy!.msg).toContain('acton');
    expect(verdict.DestinationRule!.msg).toContain('http2MaxRequest');
  });
});

describe('what the default values render', () => {
  it('has the expected objects', () => {
    const names = defaults.objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(names).toEqual([
      'ConfigMap/mem0-gov-envoy', 'Deployment/mem0-gov-envoy', 'Job/mem0-gov-migrate',
      'NetworkPolicy/mem0-gov-authz', 'NetworkPolicy/mem0-gov-envoy', 'NetworkPolicy/mem0-gov-migrate',
      'PodDisruptionBudget/mem0-gov-authz', 'PodDisruptionBudget/mem0-gov-envoy', 'PrometheusRule/mem0-gov',
      'Service/mem0-gov-authz', 'Service/mem0-gov-authz-headless', 'Service/mem0-gov-envoy',
      'ServiceAccount/mem0-gov-authz', 'ServiceAccount/mem0-gov-envoy', 'ServiceMonitor/mem0-gov-authz',
      'StatefulSet/mem0-gov-authz',
    ]);
    // No credential is rendered by default: every Secret is the operator's.
    expect(byKind(defaults, 'Secret')).toEqual([]);
  });

  it('authz is a StatefulSet with stable names: the chain id is the pod name, one per replica', () => {
    const sts = one(defaults, 'StatefulSet', 'mem0-gov-authz');
    const headless = one(defaults, 'Service', sts.spec.serviceName);
    expect(headless.spec.clusterIP).toBe('None');
    expect(headless.spec.publishNotReadyAddresses).toBe(false);
    expect(matches(headless.spec.selector, pod(sts).metadata.labels)).toBe(true);
    expect(sts.spec.podManagementPolicy).toBe('Parallel');
    expect(sts.spec.replicas).toBe(2);
    const c = pod(sts).spec.containers[0];
    const names = c.env.map((e: Any) => e.name);
    const env = envOf(c);
    expect(env.POD_NAME.valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
    // $(POD_NAME) expands only from a variable defined earlier in the list.
    expect(names.indexOf('POD_NAME')).toBeLessThan(names.indexOf('MEM0_GOV_AUDIT_CHAIN_ID'));
    expect(env.MEM0_GOV_AUDIT_CHAIN_ID.value).toBe('mem0-gov.$(POD_NAME)');
    expect(env.MEM0_GOV_AUDIT_ADMIN_CHAIN_ID.value).toBe('admin:mem0-gov.$(POD_NAME)');
    // One process per pod unless authz.workers says more (the CPU count Node sees is the node's).
    expect(env.MEM0_GOV_WORKERS.value).toBe('1');
    // authz never migrates: the owner does, in the hook Job.
    expect(env.MEM0_GOV_AUDIT_MIGRATE.value).toBe('false');
    expect(c.image).toBe(`mem0-gov/authz:${(parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as { appVersion: string }).appVersion}`);
    // The image's CMD (node dist/authz/main.js) is what runs.
    expect(c.command).toBeUndefined();
    expect(c.args).toBeUndefined();
  });

  it('the spool is a PersistentVolumeClaim per replica, kept on scale-down and deletion', () => {
    const sts = one(defaults, 'StatefulSet', 'mem0-gov-authz');
    expect(sts.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
    const [vct] = sts.spec.volumeClaimTemplates;
    expect(vct.metadata.name).toBe('spool');
    expect(vct.spec.resources.requests.storage).toBe('1Gi');
    const c = pod(sts).spec.containers[0];
    const mount = c.volumeMounts.find((m: Any) => m.name === 'spool');
    expect(mount.mountPath).toBe(LAYOUT.stateDir);
    expect(envOf(c).MEM0_GOV_AUDIT_SPOOL_DIR.value.startsWith(`${mount.mountPath}/`)).toBe(true);
    // The volume is writable by the numeric user: fsGroup.
    expect(pod(sts).spec.securityContext.fsGroup).toBe(IMAGE_GID);
    expect(pod(sts).spec.volumes.map((v: Any) => v.name)).not.toContain('spool');
  });

  it('authz\'s environment is one its config loader accepts, with no unknown MEM0_GOV_* variable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mem0gov-chart-env-'));
    try {
      for (const r of [defaults, external]) {
        const sts = byKind(r, 'StatefulSet')[0]!;
        const { env, files } = containerEnv(pod(sts).spec.containers[0], pod(sts).spec, `${sts.metadata.name}-0`, dir);
        expect(unknownVariables(env)).toEqual([]);
        const cfg = loadConfig(env);
        expect(cfg.audit.migrate).toBe(false);
        expect(cfg.audit.chainId).toBe(r === defaults ? 'mem0-gov.mem0-gov-authz-0' : 'prod-eu:gov-authz-0');
        expect(new URL(cfg.audit.pgUrl).username).toBe('mem0gov_writer');
        expect(new URL(cfg.audit.pgUrl).password).toBe(files['pg-writer-password']);
        expect(cfg.grpcPort).toBe(portNumber(pod(sts).spec, 'grpc'));
        expect(cfg.httpPort).toBe(portNumber(pod(sts).spec, 'http-metrics'));
        expect(cfg.audit.checkpointKeyPem).toBe(files['audit-checkpoint-key.pem']);
        expect(cfg.mem0ApiKey).toBe(files['mem0-api-key']);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the migration Job is a pre-install/pre-upgrade hook running the image\'s CLI as the schema owner', () => {
    const job = one(defaults, 'Job', 'mem0-gov-migrate');
    expect(job.metadata.annotations).toMatchObject({
      'helm.sh/hook': 'pre-install,pre-upgrade',
      'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded',
    });
    const spec = pod(job).spec;
    expect(spec.restartPolicy).toBe('Never');
    const c = spec.containers[0];
    expect(c.command).toEqual(['node', LAYOUT.cli, 'audit', 'migrate']);
    expect(c.image).toBe(pod(one(defaults, 'StatefulSet', 'mem0-gov-authz')).spec.containers[0].image);
    const dir = mkdtempSync(join(tmpdir(), 'mem0gov-chart-job-'));
    try {
      const { env, files } = containerEnv(c, spec, 'mem0-gov-migrate-abcde', dir);
      expect(unknownVariables(env)).toEqual([]);
      const audit = loadAuditConfig(env);
      // `audit migrate` migrates MEM0_GOV_PG_ADMIN_URL ?? MEM0_GOV_PG_URL: here the owner.
      expect(audit.adminUrl).toBeUndefined();
      expect(new URL(audit.pgUrl).username).toBe('mem0gov_owner');
      expect(new URL(audit.pgUrl).password).toBe(files['pg-owner-password']);
      expect(env.MEM0_GOV_ADMIN_ACTOR).toBe('helm:mem0-gov');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // The owner's Secret is the Job's alone; authz mounts the writer's.
    const ownerSecret = secretsOf(spec);
    expect(ownerSecret).toEqual(['mem0-gov-postgresql-owner']);
    const authzSecrets = secretsOf(pod(one(defaults, 'StatefulSet', 'mem0-gov-authz')).spec);
    expect(authzSecrets).toEqual(['mem0-gov-postgresql-writer', 'mem0-gov-redis', 'mem0-gov-mem0-api-key', 'mem0-gov-audit-checkpoint']);
  });

  it('every pod runs as a numeric non-root user, read-only root, no privilege escalation, no capabilities', () => {
    for (const r of [defaults, istio, external]) {
      for (const w of r.objects.filter((o) => ['StatefulSet', 'Deployment', 'Job'].includes(o.kind))) {
        const spec = pod(w).spec;
        const what = `${w.kind}/${w.metadata.name}`;
        expect(spec.securityContext.runAsNonRoot, what).toBe(true);
        expect(Number.isInteger(spec.securityContext.runAsUser) && spec.securityContext.runAsUser > 0, what).toBe(true);
        expect(spec.securityContext.seccompProfile, what).toEqual({ type: 'RuntimeDefault' });
        expect(spec.automountServiceAccountToken, what).toBe(false);
        expect(spec.enableServiceLinks, what).toBe(false);
        if (w.kind !== 'Deployment') expect(spec.securityContext.runAsUser, what).toBe(IMAGE_UID);
        for (const c of containers(spec)) {
          expect(c.securityContext, `${what} ${c.name}`).toMatchObject({
            runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] },
          });
        }
      }
    }
  });

  it('writable mounts only where needed: the spool PVC and /tmp for authz, /tmp for Envoy, none for the Job', () => {
    const writable = (w: K8sObject): string[] => {
      const spec = pod(w).spec;
      const claims = new Set((w.spec.volumeClaimTemplates ?? []).map((v: Any) => v.metadata.name));
      return containers(spec).flatMap((c) => (c.volumeMounts ?? []).filter((m: Any) => m.readOnly !== true).map((m: Any) => {
        const vol = spec.volumes?.find((v: Any) => v.name === m.name);
        const kind = claims.has(m.name) ? 'pvc' : vol?.emptyDir ? 'emptyDir' : Object.keys(vol ?? {}).filter((k) => k !== 'name').join();
        return `${m.mountPath}=${kind}`;
      })).sort();
    };
    expect(writable(one(defaults, 'StatefulSet', 'mem0-gov-authz'))).toEqual(['/app/.state=pvc', '/tmp=emptyDir']);
    expect(writable(one(defaults, 'Deployment', 'mem0-gov-envoy'))).toEqual(['/tmp=emptyDir']);
    expect(writable(one(defaults, 'Job', 'mem0-gov-migrate'))).toEqual([]);
    for (const w of [one(defaults, 'StatefulSet', 'mem0-gov-authz'), one(defaults, 'Deployment', 'mem0-gov-envoy')]) {
      for (const v of pod(w).spec.volumes.filter((x: Any) => x.emptyDir)) expect(v.emptyDir.sizeLimit, v.name).toBeDefined();
    }
  });

  it('every container has CPU and memory requests and a memory limit', () => {
    for (const r of [defaults, istio, external]) {
      for (const w of r.objects.filter((o) => ['StatefulSet', 'Deployment', 'Job'].includes(o.kind))) {
        for (const c of containers(pod(w).spec)) {
          expect(c.resources?.requests?.cpu, `${w.metadata.name}/${c.name}`).toBeDefined();
          expect(c.resources?.requests?.memory, `${w.metadata.name}/${c.name}`).toBeDefined();
          expect(c.resources?.limits?.memory, `${w.metadata.name}/${c.name}`).toBeDefined();
        }
      }
    }
  });

  it('probes: authz /healthz (startup, liveness) and /readyz (readiness) on its HTTP port; Envoy on its admin /ready', () => {
    const spec = pod(one(defaults, 'StatefulSet', 'mem0-gov-authz')).spec;
    const c = spec.containers[0];
    const http = Number(envOf(c).MEM0_GOV_HTTP_PORT.value);
    for (const [probe, path] of [['startupProbe', '/healthz'], ['livenessProbe', '/healthz'], ['readinessProbe', '/readyz']] as const) {
      expect(c[probe].httpGet.path, probe).toBe(path);
      expect(portNumber(spec, c[probe].httpGet.port), probe).toBe(http);
    }
    const envoy = pod(one(defaults, 'Deployment', 'mem0-gov-envoy')).spec.containers[0];
    expect(envoy.readinessProbe.exec.command.join(' ')).toContain(`/dev/tcp/127.0.0.1/${ENVOY_POD.adminPort}`);
    expect(envoy.readinessProbe.exec.command.join(' ')).toContain('GET /ready');
    expect(envoy.livenessProbe.tcpSocket.port).toBe('https');
  });

  it('NetworkPolicy: only Envoy reaches authz :9191, only Prometheus and Envoy (/audit/) reach :9192, Envoy only on :9000', () => {
    const np = one(defaults, 'NetworkPolicy', 'mem0-gov-authz');
    const authz = pod(one(defaults, 'StatefulSet', 'mem0-gov-authz'));
    const envoy = pod(one(defaults, 'Deployment', 'mem0-gov-envoy'));
    expect(matches(np.spec.podSelector.matchLabels, authz.metadata.labels)).toBe(true);
    expect(matches(np.spec.podSelector.matchLabels, envoy.metadata.labels)).toBe(false);
    expect(np.spec.policyTypes).toEqual(['Ingress']);
    const rules = np.spec.ingress.map((rule: Any) => ({ ports: rule.ports.map((p: Any) => portNumber(authz.spec, p.port)), from: rule.from }));
    expect(rules).toHaveLength(3);
    const grpc = rules.find((x: Any) => x.ports.includes(9191));
    expect(grpc.ports).toEqual([9191]);
    expect(grpc.from).toHaveLength(1);
    expect(Object.keys(grpc.from[0])).toEqual(['podSelector']);
    expect(matches(grpc.from[0].podSelector.matchLabels, envoy.metadata.labels)).toBe(true);
    expect(matches(grpc.from[0].podSelector.matchLabels, authz.metadata.labels)).toBe(false);
    const http = rules.filter((x: Any) => x.ports.includes(9192));
    expect(http).toHaveLength(2);
    for (const r of http) expect(r.ports).toEqual([9192]);
    const fromEnvoy = http.find((x: Any) => Object.keys(x.from[0]).join() === 'podSelector')!;
    expect(fromEnvoy.from).toHaveLength(1);
    expect(matches(fromEnvoy.from[0].podSelector.matchLabels, envoy.metadata.labels)).toBe(true);
    const metrics = http.find((x: Any) => x !== fromEnvoy)!;
    expect(metrics.from).toEqual([{
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } },
    }]);
    const enp = one(defaults, 'NetworkPolicy', 'mem0-gov-envoy');
    expect(matches(enp.spec.podSelector.matchLabels, envoy.metadata.labels)).toBe(true);
    expect(enp.spec.ingress.map((rule: Any) => rule.ports.map((p: Any) => portNumber(envoy.spec, p.port)))).toEqual([[ENVOY_POD.listenPort]]);
    const job = one(defaults, 'NetworkPolicy', 'mem0-gov-migrate');
    expect(matches(job.spec.podSelector.matchLabels, pod(one(defaults, 'Job', 'mem0-gov-migrate')).metadata.labels)).toBe(true);
    expect(job.spec.ingress).toBeUndefined();
  });

  it('PodDisruptionBudgets cover authz and Envoy', () => {
    for (const [pdb, w] of [['mem0-gov-authz', one(defaults, 'StatefulSet', 'mem0-gov-authz')], ['mem0-gov-envoy', one(defaults, 'Deployment', 'mem0-gov-envoy')]] as const) {
      const p = one(defaults, 'PodDisruptionBudget', pdb);
      expect(matches(p.spec.selector.matchLabels, pod(w).metadata.labels), pdb).toBe(true);
      expect(p.spec.maxUnavailable).toBe(1);
    }
  });

  it('ServiceMonitor scrapes the authz Service\'s metrics port under the job name the alert rules use', () => {
    const sm = one(defaults, 'ServiceMonitor', 'mem0-gov-authz');
    const selected = byKind(defaults, 'Service').filter((s) => matches(sm.spec.selector.matchLabels, s.metadata.labels));
    expect(selected.map((s) => s.metadata.name)).toEqual(['mem0-gov-authz']);
    const [ep] = sm.spec.endpoints;
    expect(selected[0]!.spec.ports.map((p: Any) => p.name)).toContain(ep.port);
    expect(ep.path).toBe('/metrics');
    const job = ep.relabelings.find((x: Any) => x.targetLabel === 'job').replacement;
    const alerts = readFileSync(join(ROOT, 'docker', 'prometheus', 'alerts.yaml'), 'utf8');
    expect(alerts).toContain(`up{job="${job}"}`);
    expect(ep.relabelings).toContainEqual({ action: 'replace', sourceLabels: ['__meta_kubernetes_pod_name'], targetLabel: 'instance' });
  });

  it('PrometheusRule holds exactly the rules of docker/prometheus/alerts.yaml', () => {
    const rule = one(defaults, 'PrometheusRule', 'mem0-gov');
    const alerts = parse(readFileSync(join(ROOT, 'docker', 'prometheus', 'alerts.yaml'), 'utf8')) as { groups: unknown[] };
    expect(rule.spec).toEqual(alerts);
    expect((rule.spec.groups as Any[]).flatMap((g) => g.rules).length).toBeGreaterThan(10);
  });

  it('Envoy runs the project\'s envoy/envoy.yaml as envoy/render.ts renders it for the in-cluster services', async () => {
    const cm = one(defaults, 'ConfigMap', 'mem0-gov-envoy');
    const headless = one(defaults, 'Service', 'mem0-gov-authz-headless');
    const expected = chartEnvoyConfig({
      authzHost: `${headless.metadata.name}.mem0-gov.svc.cluster.local`, authzPort: headless.spec.ports[0].port,
      mem0Host: 'mem0.mem0.svc.cluster.local', mem0Port: 8000, mem0Tls: false, checksInFlight: 32,
    });
    expect(parse(cm.data!['envoy.yaml']!)).toEqual(parse(expected));
    expect(portNumber(pod(one(defaults, 'StatefulSet', 'mem0-gov-authz')).spec, headless.spec.ports[0].targetPort)).toBe(9191);
    const deploy = pod(one(defaults, 'Deployment', 'mem0-gov-envoy')).spec;
    const c = deploy.containers[0];
    const configMount = c.volumeMounts.find((m: Any) => m.name === 'config');
    expect(deploy.volumes.find((v: Any) => v.name === 'config').configMap.name).toBe(cm.metadata.name);
    expect(c.args.slice(0, 2)).toEqual(['-c', posix.join(configMount.mountPath, 'envoy.yaml')]);
    const tlsMount = c.volumeMounts.find((m: Any) => m.name === 'tls');
    expect(tlsMount.mountPath).toBe(posix.dirname(ENVOY_POD.certFile));
    expect(deploy.volumes.find((v: Any) => v.name === 'tls').secret.secretName).toBe('mem0-gov-envoy-tls');
    expect(portNumber(deploy, 'https')).toBe(ENVOY_POD.listenPort);
    await expectEnvoyAccepts(cm.data!['envoy.yaml']!);
  });
});

describe('external Redis, PostgreSQL, IdP and Mem0 (test/values-external.yaml)', () => {
  const sts = (): K8sObject => one(external, 'StatefulSet', 'gov-authz');

  it('points authz at them', () => {
    const env = envOf(pod(sts()).spec.containers[0]);
    expect(env.MEM0_GOV_PG_URL.value).toBe('postgres://mem0gov_writer@audit-db.databases.svc.cluster.local:6432/mem0gov_prod?sslmode=verify-full&sslrootcert=/etc/pg-ca/ca.crt');
    expect(env.MEM0_GOV_REDIS_CLUSTER_NODES.value).toBe('redis-0.redis:6379,redis-1.redis:6379,redis-2.redis:6379');
    expect(env.MEM0_GOV_REDIS_URL).toBeUndefined();
    expect(env.MEM0_GOV_JWT_ISSUERS).toBeUndefined();
    expect(JSON.parse(env.MEM0_GOV_JWT_ISSUERS_JSON.value)).toHaveLength(2);
    expect(env.MEM0_GOV_JWT_TENANT_CLAIM.value).toBe('org.tenant');
    expect(env.MEM0_GOV_JWT_ROLES_CLAIM.value).toBe('groups');
    expect(env.MEM0_GOV_MEM0_URL.value).toBe('https://mem0.example.com');
    expect(env.MEM0_GOV_LIMIT_DEFAULT.value).toBe('600/m');
    expect(env.MEM0_GOV_SESSION_IDLE_SECONDS.value).toBe('900');
    expect(pod(sts()).spec.containers[0].image).toBe('registry.example.com/mem0-gov/authz:1.2.3@sha256:' + '0'.repeat(64));
    const job = pod(one(external, 'Job', 'gov-migrate')).spec.containers[0];
    expect(envOf(job).MEM0_GOV_PG_URL.value).toBe('postgres://audit_owner@audit-db.databases.svc.cluster.local:6432/mem0gov_prod?sslmode=verify-full&sslrootcert=/etc/pg-ca/ca.crt');
  });

  it('creates the Secrets whose values are given; the owner\'s only as a hook that precedes the Job and is deleted after it', () => {
    const secrets = byKind(external, 'Secret');
    const data = (name: string): Record<string, string> => Object.fromEntries(Object.entries(one(external, 'Secret', name).data!)
      .map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
    expect(secrets.map((s) => s.metadata.name).sort()).toEqual(['gov-audit-checkpoint', 'gov-mem0-api-key', 'gov-postgresql-owner', 'gov-postgresql-writer', 'gov-redis']);
    expect(data('gov-postgresql-writer')).toEqual({ password: 'test-placeholder-writer' });
    expect(data('gov-redis')).toEqual({ password: 'test-placeholder-redis' });
    expect(data('gov-mem0-api-key')).toEqual({ 'api-key': 'test-placeholder-mem0' });
    expect(data('gov-audit-checkpoint')).toEqual({ 'checkpoint-key.pem': 'test-placeholder-not-a-key' });
    expect(data('gov-postgresql-owner')).toEqual({ password: 'test-placeholder-owner' });
    const owner = one(external, 'Secret', 'gov-postgresql-owner').metadata.annotations!;
    const job = one(external, 'Job', 'gov-migrate').metadata.annotations!;
    expect(owner['helm.sh/hook']).toBe(job['helm.sh/hook']);
    expect(Number(owner['helm.sh/hook-weight'])).toBeLessThan(Number(job['helm.sh/hook-weight']));
    expect(owner['helm.sh/hook-delete-policy']).toContain('hook-succeeded');
    // The writer's (and every other runtime) Secret is a release resource, not a hook.
    expect(one(external, 'Secret', 'gov-postgresql-writer').metadata.annotations?.['helm.sh/hook']).toBeUndefined();
    // Chart-managed Secrets roll the pods when they change.
    expect(pod(sts()).metadata.annotations['checksum/secrets']).not.toBe(pod(one(defaults, 'StatefulSet', 'mem0-gov-authz')).metadata.annotations['checksum/secrets']);
  });

  it('spool, chain ids, policy data and network rules follow the values', () => {
    const s = sts();
    expect(s.spec.replicas).toBe(3);
    expect(s.spec.volumeClaimTemplates[0].spec).toMatchObject({ storageClassName: 'fast-ssd', resources: { requests: { storage: '5Gi' } } });
    const c = pod(s).spec.containers[0];
    expect(envOf(c).MEM0_GOV_AUDIT_CHAIN_ID.value).toBe('prod-eu:$(POD_NAME)');
    // Two workers: chains prod-eu:<pod>-w0 and -w1 (the service derives them).
    expect(envOf(c).MEM0_GOV_WORKERS.value).toBe('2');
    const cm = one(external, 'ConfigMap', 'gov-policy-data');
    const env = envOf(c);
    const mount = c.volumeMounts.find((m: Any) => m.name === 'policy-data');
    expect(env.MEM0_GOV_POLICY_DATA.value).toBe(posix.join(mount.mountPath, 'data.json'));
    expect(JSON.parse(cm.data!['data.json']!).mem0gov.tenants.acme.allowed_cidrs).toEqual(['10.0.0.0/8']);
    expect(pod(s).metadata.annotations['checksum/policy-data']).toMatch(/^[0-9a-f]{64}$/);
    const np = one(external, 'NetworkPolicy', 'gov-authz');
    expect(np.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(np.spec.egress[0].ports).toEqual([{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }]);
    expect(np.spec.egress).toHaveLength(3);
    expect(one(external, 'NetworkPolicy', 'gov-envoy').spec.ingress[0].from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress' } } }]);
    expect(one(external, 'ServiceMonitor', 'gov-authz').metadata.labels!.release).toBe('kube-prometheus-stack');
  });

  it('an https Mem0 gets render.ts\' upstream TLS (SNI, certificate name, Host) with the CA given', async () => {
    const cm = one(external, 'ConfigMap', 'gov-envoy');
    const expected = chartEnvoyConfig({
      authzHost: 'gov-authz-headless.prod.svc.cluster.local', authzPort: 9191,
      mem0Host: 'mem0.example.com', mem0Port: 443, mem0Tls: true, mem0CaFile: '/etc/mem0-ca/ca.crt', checksInFlight: 96,
    });
    expect(parse(cm.data!['envoy.yaml']!)).toEqual(parse(expected));
    expect(cm.data!['envoy.yaml']).toContain('sni: "mem0.example.com"');
    const deploy = pod(one(external, 'Deployment', 'gov-envoy')).spec;
    expect(deploy.volumes.find((v: Any) => v.name === 'tls').secret.secretName).toBe('edge-cert');
    expect(deploy.containers[0].volumeMounts.map((m: Any) => m.mountPath)).toContain(dirname('/etc/mem0-ca/ca.crt'));
    await expectEnvoyAccepts(cm.data!['envoy.yaml']!, { '/etc/mem0-ca/ca.crt': 'ca' });
  });

  it('Mem0 URLs Envoy cannot forward to, and contradictory values, fail the render with a reason', async () => {
    expect(await renderError({ set: ['mem0.url=http://mem0:8000/api'] })).toContain('Mem0 must be served at the root');
    expect(await renderError({ set: ['mem0.url=https://10.0.0.7'] })).toContain('https needs a DNS name');
    expect(await renderError({ set: ['mem0.url=ftp://mem0'] })).toContain("at '/mem0/url'");
    expect(await renderError({ set: ['postgresql.writer.existingSecret=a', 'postgresql.writer.password=b'] })).toContain('either existingSecret or password');
    expect(await renderError({ set: ['istio.enabled=true'] })).toContain('set envoy.enabled=false');
    expect(await renderError({ set: ['audit.chainIdPrefix=a/b'] })).toContain("at '/audit/chainIdPrefix'");
    expect(await renderError({ set: ['authz.workers=0'] })).toContain("at '/authz/workers'");
    // values.schema.json: a misspelt key is refused, not ignored.
    expect(await renderError({ set: ['postgresql.hots=db'] })).toMatch(/hots/);
    // An IPv6 Mem0 over http is fine.
    const v6 = await render({ set: ['mem0.url=http://[fd00::7]:8000'] });
    const cfg = parse(one(v6, 'ConfigMap', 'mem0-gov-envoy').data!['envoy.yaml']!) as Any;
    expect(cfg.static_resources.clusters.find((c: Any) => c.name === 'mem0').load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address)
      .toEqual({ address: 'fd00::7', port_value: 8000 });
  });
});

/** The edge connection manager of a rendered Envoy config. */
const edgeHcm = (cfg: Any): Any => cfg.static_resources.listeners.find((l: Any) => l.name === 'mem0_edge').filter_chains[0].filters
  .find((f: Any) => f.name === 'envoy.filters.network.http_connection_manager').typed_config;
const staticLayer = (cfg: Any): Any => cfg.layered_runtime.layers.find((l: Any) => l.name === 'static').static_layer;

describe('tracing (tracing.*, test/values-tracing-shadow.yaml)', () => {
  const COLLECTOR = 'otel-collector.observability.svc.cluster.local';

  it('off (the default): no OTEL_* variable, no tracer, no collector cluster or egress rule; collector values alone change nothing', async () => {
    for (const r of [defaults, istio, external]) {
      for (const w of r.objects.filter((o) => ['StatefulSet', 'Deployment', 'Job'].includes(o.kind))) {
        for (const c of containers(pod(w).spec)) expect((c.env ?? []).map((e: Any) => e.name).filter((n: string) => n.startsWith('OTEL_')), w.metadata.name).toEqual([]);
      }
    }
    for (const cm of [one(defaults, 'ConfigMap', 'mem0-gov-envoy'), one(external, 'ConfigMap', 'gov-envoy')]) {
      const cfg = parse(cm.data!['envoy.yaml']!) as Any;
      expect(edgeHcm(cfg).tracing).toBeUndefined();
      expect(cfg.static_resources.clusters.map((c: Any) => c.name)).not.toContain('opentelemetry_collector');
      expect(Object.keys(staticLayer(cfg)).filter((k) => k.startsWith('tracing.'))).toEqual([]);
    }
    expect(one(external, 'NetworkPolicy', 'gov-authz').spec.egress.flatMap((rule: Any) => rule.ports.map((p: Any) => p.port))).not.toContain(4318);
    // Only the switch turns it on: every other tracing value leaves the render byte for byte alone.
    const hostOnly = await render({ set: [`tracing.collector.host=${COLLECTOR}`, 'tracing.collector.httpPort=4319', 'tracing.serviceName=x'] });
    expect(hostOnly.text).toBe(defaults.text);
  });

  it('on: authz exports to the collector with OTEL_* settings the service accepts, sampling as Envoy does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mem0gov-chart-otel-'));
    try {
      for (const [r, podName, ns] of [[traced, 'mem0-gov-authz-1', 'mem0-gov'], [tracedExternal, 'gov-authz-0', 'prod']] as const) {
        const sts = byKind(r, 'StatefulSet')[0]!;
        const { env } = containerEnv(pod(sts).spec.containers[0], pod(sts).spec, podName, dir);
        expect(unknownVariables(env)).toEqual([]);
        loadConfig(env);
        const otel = loadOtelConfig(env);
        expect(otel).toMatchObject({
          enabled: true, url: `http://${COLLECTOR}:4318/v1/traces`, serviceName: 'mem0-gov',
          sampler: 'parentbased_traceidratio', samplerRatio: 0.125, headers: {},
          resourceAttributes: { 'k8s.namespace.name': ns, 'k8s.pod.name': podName },
        });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // The percentage as the plain decimal ratio the service accepts (Go would print 1e-05).
    const ratio = async (pct: string): Promise<string> => {
      const r = await render({ set: ['tracing.enabled=true', `tracing.collector.host=${COLLECTOR}`], setJson: [`tracing.samplingPercent=${pct}`] });
      return envOf(pod(one(r, 'StatefulSet', 'mem0-gov-authz')).spec.containers[0]).OTEL_TRACES_SAMPLER_ARG.value as string;
    };
    expect(await Promise.all(['100', '0', '0.001', '33.3'].map(ratio))).toEqual(['1', '0', '0.00001', '0.333']);
  });

  it('on: Envoy runs render.ts\' tracer with the collector and sampling, Envoy\'s own batching, and envoy --mode validate accepts it', async () => {
    const cases = [
      [one(traced, 'ConfigMap', 'mem0-gov-envoy'), { authzHost: 'mem0-gov-authz-headless.mem0-gov.svc.cluster.local', authzPort: 9191, mem0Host: 'mem0.mem0.svc.cluster.local', mem0Port: 8000, mem0Tls: false, checksInFlight: 32 }, {}],
      [one(tracedExternal, 'ConfigMap', 'gov-envoy'), { authzHost: 'gov-authz-headless.prod.svc.cluster.local', authzPort: 9191, mem0Host: 'mem0.example.com', mem0Port: 443, mem0Tls: true, mem0CaFile: '/etc/mem0-ca/ca.crt', checksInFlight: 96 }, { '/etc/mem0-ca/ca.crt': 'ca' }],
    ] as const;
    for (const [cm, upstreams, files] of cases) {
      const text = cm.data!['envoy.yaml']!;
      expect(parse(text)).toEqual(parse(chartEnvoyConfig({ ...upstreams, tracing: { otlpHost: COLLECTOR, otlpPort: 4318, samplingPercent: 12.5 } })));
      const cfg = parse(text) as Any;
      const tracing = edgeHcm(cfg).tracing;
      expect(tracing.random_sampling).toEqual({ value: 12.5 });
      expect(tracing.provider.name).toBe('envoy.tracers.opentelemetry');
      expect(tracing.provider.typed_config.http_service.http_uri).toEqual({ uri: `http://${COLLECTOR}:4318/v1/traces`, cluster: 'opentelemetry_collector', timeout: '1s' });
      const collector = cfg.static_resources.clusters.find((c: Any) => c.name === 'opentelemetry_collector');
      expect(collector.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({ address: COLLECTOR, port_value: 4318 });
      // No test flush knobs: Envoy exports every 5 s or 5 spans, its defaults.
      expect(Object.keys(staticLayer(cfg)).filter((k) => k.startsWith('tracing.'))).toEqual([]);
      await expectEnvoyAccepts(text, files);
    }
    // A new Envoy config rolls the Envoy pods.
    expect(pod(one(traced, 'Deployment', 'mem0-gov-envoy')).metadata.annotations['checksum/envoy-config'])
      .not.toBe(pod(one(defaults, 'Deployment', 'mem0-gov-envoy')).metadata.annotations['checksum/envoy-config']);
  });

  it('NetworkPolicy: with authz egress restricted, one more rule to the collector\'s port and peers; Envoy\'s egress stays open', async () => {
    // Unrestricted egress (no networkPolicy.authzEgress): nothing to open.
    expect(one(traced, 'NetworkPolicy', 'mem0-gov-authz').spec).toEqual(one(defaults, 'NetworkPolicy', 'mem0-gov-authz').spec);
    const before = one(external, 'NetworkPolicy', 'gov-authz').spec;
    const after = one(tracedExternal, 'NetworkPolicy', 'gov-authz').spec;
    expect(after.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(after.egress.slice(0, -1)).toEqual(before.egress);
    expect(after.egress.at(-1)).toEqual({
      ports: [{ port: 4318, protocol: 'TCP' }],
      to: [{
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'observability' } },
        podSelector: { matchLabels: { 'app.kubernetes.io/name': 'opentelemetry-collector' } },
      }],
    });
    // No peers given: the collector's port to anywhere.
    const anyPeer = one(await render({ set: ['tracing.enabled=true', `tracing.collector.host=${COLLECTOR}`, 'tracing.collector.httpPort=55681', 'networkPolicy.authzEgress[0].ports[0].port=6379'] }), 'NetworkPolicy', 'mem0-gov-authz').spec;
    expect(anyPeer.egress.at(-1)).toEqual({ ports: [{ port: 55681, protocol: 'TCP' }] });
    for (const r of [traced, tracedExternal]) expect(byKind(r, 'NetworkPolicy').find((n) => n.metadata.name.endsWith('-envoy'))!.spec.policyTypes).toEqual(['Ingress']);
  });

  it('refuses tracing without a collector and out-of-range values', async () => {
    expect(await renderError({ set: ['tracing.enabled=true'] })).toContain('set tracing.collector.host');
    expect(await renderError({ set: ['tracing.enabled=true', 'tracing.collector.host=otel', 'tracing.samplingPercent=101'] })).toContain("at '/tracing/samplingPercent'");
    expect(await renderError({ set: ['tracing.collector.host=http://otel:4318'] })).toContain("at '/tracing/collector/host'");
    expect(await renderError({ set: ['tracing.collector.port=4318'] })).toMatch(/port/);
  });
});

describe('shadow policy (policy.shadow)', () => {
  const MOUNT = '/etc/mem0-gov/policy-shadow';
  const shadowOf = (r: Rendered): { env: Record<string, string>; mounts: Any[]; volumes: Any[] } => {
    const spec = pod(byKind(r, 'StatefulSet')[0]!).spec;
    const c = spec.containers[0];
    const env = Object.fromEntries(c.env.filter((e: Any) => e.name.startsWith('MEM0_GOV_POLICY_SHADOW_')).map((e: Any) => [e.name, e.value]));
    return { env, mounts: c.volumeMounts.filter((m: Any) => m.name === 'policy-shadow'), volumes: spec.volumes.filter((v: Any) => v.name === 'policy-shadow') };
  };

  it('off (the default): no shadow variable, volume or mount', () => {
    for (const r of [defaults, istio, external]) expect(shadowOf(r)).toEqual({ env: {}, mounts: [], volumes: [] });
  });

  it('on: the candidate\'s keys of the ConfigMap, mounted read-only as a directory, named by the shadow variables the service reads', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mem0gov-chart-shadow-'));
    try {
      for (const [r, podName] of [[traced, 'mem0-gov-authz-0'], [tracedExternal, 'gov-authz-0']] as const) {
        const s = shadowOf(r);
        expect(s.volumes).toEqual([{ name: 'policy-shadow', configMap: { name: 'mem0-gov-candidate', items: [{ key: 'policy.wasm', path: 'policy.wasm' }, { key: 'data.json', path: 'data.json' }] } }]);
        // A subPath mount would never see the ConfigMap change.
        expect(s.mounts).toEqual([{ name: 'policy-shadow', mountPath: MOUNT, readOnly: true }]);
        expect(s.env).toEqual({ MEM0_GOV_POLICY_SHADOW_WASM: `${MOUNT}/policy.wasm`, MEM0_GOV_POLICY_SHADOW_DATA: `${MOUNT}/data.json` });
        const sts = byKind(r, 'StatefulSet')[0]!;
        const { env } = containerEnv(pod(sts).spec.containers[0], pod(sts).spec, podName, dir);
        expect(unknownVariables(env)).toEqual([]);
        expect(loadConfig(env).policy.shadow).toEqual({ wasmPath: `${MOUNT}/policy.wasm`, dataPath: `${MOUNT}/data.json` });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Still only the spool and /tmp are writable.
    expect(pod(one(traced, 'StatefulSet', 'mem0-gov-authz')).spec.containers[0].volumeMounts.filter((m: Any) => m.readOnly !== true).map((m: Any) => m.mountPath).sort())
      .toEqual(['/app/.state', '/tmp']);
  });

  it('a candidate of one file: the other falls back to the enforced one (only its variable is set, only its key mounted)', async () => {
    const [wasmOnly, dataOnly] = await Promise.all([
      render({ set: ['policy.shadow.configMap=cand'] }),
      render({ set: ['policy.shadow.configMap=cand', 'policy.shadow.wasmKey=', 'policy.shadow.dataKey=tenants.json'] }),
    ]);
    expect(shadowOf(wasmOnly).env).toEqual({ MEM0_GOV_POLICY_SHADOW_WASM: `${MOUNT}/policy.wasm` });
    expect(shadowOf(wasmOnly).volumes[0].configMap).toEqual({ name: 'cand', items: [{ key: 'policy.wasm', path: 'policy.wasm' }] });
    expect(shadowOf(dataOnly).env).toEqual({ MEM0_GOV_POLICY_SHADOW_DATA: `${MOUNT}/tenants.json` });
    expect(shadowOf(dataOnly).volumes[0].configMap).toEqual({ name: 'cand', items: [{ key: 'tenants.json', path: 'tenants.json' }] });
    for (const r of [wasmOnly, dataOnly]) {
      const out = await validate(r.text, KUBE_VERSIONS[1]);
      expect(out.summary).toEqual({ valid: r.objects.length, invalid: 0, errors: 0, skipped: 0 });
    }
    const c = pod(one(dataOnly, 'StatefulSet', 'mem0-gov-authz')).spec.containers[0];
    const policy = loadPolicyConfig(Object.fromEntries(c.env.filter((e: Any) => typeof e.value === 'string').map((e: Any) => [e.name, e.value])), LAYOUT.workdir);
    expect(policy.shadow).toEqual({ wasmPath: policy.wasmPath, dataPath: `${MOUNT}/tenants.json` });
    expect(policy.wasmPath).toBe(posix.join(LAYOUT.workdir, 'policies/build/policy.wasm'));
  });

  it('refuses a ConfigMap without keys, and names or keys Kubernetes would refuse', async () => {
    expect(await renderError({ set: ['policy.shadow.configMap=cand', 'policy.shadow.wasmKey='] })).toContain('policy.shadow.wasmKey and/or policy.shadow.dataKey');
    expect(await renderError({ set: ['policy.shadow.configMap=Cand_1'] })).toContain("at '/policy/shadow/configMap'");
    expect(await renderError({ set: ['policy.shadow.configMap=cand', 'policy.shadow.wasmKey=a/b'] })).toContain("at '/policy/shadow/wasmKey'");
  });

  it('helm install names the ConfigMap the pods need, and how a changed candidate is picked up', async () => {
    const notes = await renderNotes({ values: [TRACED_VALUES] });
    expect(notes).toContain('configmap/mem0-gov-candidate (keys policy.wasm, data.json)');
    expect(notes).toContain('reloaded\n  without a restart');
    expect(notes).toContain(`http://otel-collector.observability.svc.cluster.local:4318/v1/traces`);
    const plain = await renderNotes();
    expect(plain).not.toContain('Shadow policy');
    expect(plain).not.toContain('Tracing');
  });
});

describe('Istio mesh variant (examples/values-istio.yaml)', () => {
  const committed = (file: string): K8sObject[] => parseAllDocuments(readFileSync(join(ROOT, 'envoy', 'istio', file), 'utf8'))
    .map((d) => d.toJSON() as K8sObject).filter(Boolean);

  it('renders envoy/istio/authorization-policy.yaml for Mem0\'s namespace, and no Envoy of its own', () => {
    const [ap, pa] = committed('authorization-policy.yaml');
    const rap = one(istio, 'AuthorizationPolicy', 'mem0-gov-ext-authz');
    const rpa = one(istio, 'PeerAuthentication', 'mem0-gov-mem0-strict-mtls');
    expect(rap.spec).toEqual(ap!.spec);
    expect(rpa.spec).toEqual(pa!.spec);
    expect(rap.metadata.namespace).toBe(ap!.metadata.namespace);
    expect(rpa.metadata.namespace).toBe(pa!.metadata.namespace);
    expect(istio.objects.filter((o) => o.metadata.name.includes('envoy'))).toEqual([]);
  });

  it('the mesh provider of envoy/istio/mesh-config.yaml is this release\'s authz Service', () => {
    const [mesh] = committed('mesh-config.yaml');
    const provider = (mesh as Any).spec.meshConfig.extensionProviders[0];
    expect(one(istio, 'AuthorizationPolicy', 'mem0-gov-ext-authz').spec.provider.name).toBe(provider.name);
    const svc = one(istio, 'Service', 'mem0-gov-authz');
    expect(provider.envoyExtAuthzGrpc.service).toBe(`${svc.metadata.name}.mem0-gov.svc.cluster.local`);
    const grpc = svc.spec.ports.find((p: Any) => p.port === provider.envoyExtAuthzGrpc.port);
    expect(grpc.appProtocol).toBe('grpc');
    expect(portNumber(pod(one(istio, 'StatefulSet', 'mem0-gov-authz')).spec, grpc.targetPort)).toBe(9191);
  });

  it('only Mem0\'s pods (their sidecars) reach authz :9191; the migration Job has no sidecar', () => {
    const np = one(istio, 'NetworkPolicy', 'mem0-gov-authz');
    const authz = pod(one(istio, 'StatefulSet', 'mem0-gov-authz'));
    const grpc = np.spec.ingress.find((rule: Any) => rule.ports.some((p: Any) => portNumber(authz.spec, p.port) === 9191));
    expect(grpc.from).toEqual([{
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'mem0' } },
      podSelector: { matchLabels: { app: 'mem0' } },
    }]);
    expect(pod(one(istio, 'Job', 'mem0-gov-migrate')).metadata.labels['sidecar.istio.io/inject']).toBe('false');
  });
});

describe('admission: checks in flight per proxy (envoy.checksInFlight, istio.checksInFlight)', () => {
  const envoyCfg = (r: Rendered): Any => parse(byKind(r, 'ConfigMap').find((c) => c.metadata.name.endsWith('-envoy'))!.data!['envoy.yaml']!);
  const destinationRule = (r: Rendered): Any => one(r, 'DestinationRule', 'mem0-gov-authz');
  const poolOf = (dr: Any): Any => {
    const [port, ...more] = dr.spec.trafficPolicy.portLevelSettings;
    expect(more).toEqual([]);
    expect(port.port).toEqual({ number: 9191 });
    return port.connectionPool.http;
  };

  it('the edge Envoy\'s check cluster admits 16 × authz replicas × workers by default: 32 (2 × 1), 96 (3 × 2)', () => {
    expect(sixteenPerProcess(defaults)).toBe(32);
    expect(sixteenPerProcess(external)).toBe(96);
    for (const [r, n] of [[defaults, 32], [traced, 32], [external, 96], [tracedExternal, 96]] as const) {
      expect(admission(envoyCfg(r))).toEqual({ max_requests: n, max_pending_requests: n });
    }
  });

  it('the response stage has a cluster of its own, to the same authz pods, outside that bound', () => {
    for (const [r, host] of [[defaults, 'mem0-gov-authz-headless.mem0-gov.svc.cluster.local'], [external, 'gov-authz-headless.prod.svc.cluster.local']] as const) {
      const cfg = envoyCfg(r);
      const extProc = edgeHcm(cfg).http_filters.filter((f: Any) => f.name === 'envoy.filters.http.ext_proc');
      expect(extProc).toHaveLength(1);
      expect(extProc[0].typed_config.grpc_service.envoy_grpc.cluster_name).toBe('mem0_gov_response');
      const extAuthz = edgeHcm(cfg).http_filters.find((f: Any) => f.name === 'envoy.filters.http.ext_authz');
      expect(extAuthz.typed_config.grpc_service.envoy_grpc.cluster_name).toBe('mem0_gov_authz');
      const addresses = (name: string): Any[] => clusterOf(cfg, name).load_assignment.endpoints.flatMap((e: Any) => e.lb_endpoints.map((l: Any) => l.endpoint.address.socket_address));
      expect(addresses('mem0_gov_response')).toEqual([{ address: host, port_value: 9191 }]);
      expect(addresses('mem0_gov_response')).toEqual(addresses('mem0_gov_authz'));
      expect(clusterOf(cfg, 'mem0_gov_response').type).toBe('STRICT_DNS');
      // Long streams (one per allowed request while Mem0 answers): far above the checks' bound.
      expect(clusterOf(cfg, 'mem0_gov_response').circuit_breakers.thresholds[0].max_requests).toBeGreaterThan(1000);
    }
  });

  it('an explicit envoy.checksInFlight wins; otherwise the bound follows authz.replicas and authz.workers', async () => {
    const [explicit, scaled] = await Promise.all([
      render({ set: ['envoy.checksInFlight=100'] }),
      render({ set: ['authz.replicas=5', 'authz.workers=4'] }),
    ]);
    expect(admission(envoyCfg(explicit))).toEqual({ max_requests: 100, max_pending_requests: 100 });
    expect(sixteenPerProcess(scaled)).toBe(320);
    expect(admission(envoyCfg(scaled))).toEqual({ max_requests: 320, max_pending_requests: 320 });
    // Nothing else changes: the rest is render.ts' config for the same upstreams.
    expect(envoyCfg(explicit)).toEqual(parse(chartEnvoyConfig({
      authzHost: 'mem0-gov-authz-headless.mem0-gov.svc.cluster.local', authzPort: 9191,
      mem0Host: 'mem0.mem0.svc.cluster.local', mem0Port: 8000, mem0Tls: false, checksInFlight: 100,
    })));
    await expectEnvoyAccepts(one(explicit, 'ConfigMap', 'mem0-gov-envoy').data!['envoy.yaml']!);
    // A new bound rolls the Envoy pods.
    expect(pod(one(explicit, 'Deployment', 'mem0-gov-envoy')).metadata.annotations['checksum/envoy-config'])
      .not.toBe(pod(one(defaults, 'Deployment', 'mem0-gov-envoy')).metadata.annotations['checksum/envoy-config']);
  });

  it('refuses a bound below 1 or not a number', async () => {
    for (const key of ['envoy', 'istio']) {
      expect(await renderError({ set: [`${key}.checksInFlight=0`] })).toContain(`at '/${key}/checksInFlight'`);
      expect(await renderError({ set: [`${key}.checksInFlight=many`] })).toContain(`at '/${key}/checksInFlight'`);
    }
  });

  it('Istio: a DestinationRule on authz\'s gRPC port bounds each sidecar the same way (envoy/istio/destination-rule.yaml)', async () => {
    const dr = destinationRule(istio);
    const [committed] = parseAllDocuments(readFileSync(join(ROOT, 'envoy', 'istio', 'destination-rule.yaml'), 'utf8')).map((d) => d.toJSON() as Any);
    expect(dr.apiVersion).toBe(committed.apiVersion);
    expect(dr.spec).toEqual(committed.spec);
    // In the release namespace, the authz Service's: what the committed file names for release mem0-gov.
    expect(dr.metadata.namespace).toBeUndefined();
    expect(committed.metadata.namespace).toBe('mem0-gov');
    // The host and port the mesh provider calls (its checks use that host's outbound cluster).
    const provider = (parse(readFileSync(join(ROOT, 'envoy', 'istio', 'mesh-config.yaml'), 'utf8')) as Any).spec.meshConfig.extensionProviders[0].envoyExtAuthzGrpc;
    expect(dr.spec.host).toBe(provider.service);
    expect(poolOf(dr)).toEqual({ http2MaxRequests: sixteenPerProcess(istio), http1MaxPendingRequests: sixteenPerProcess(istio) });
    expect(sixteenPerProcess(istio)).toBe(32);
    // No tls block: Istio's automatic mTLS to authz stays.
    expect(JSON.stringify(dr.spec)).not.toMatch(/tls/i);

    const [explicit, scaled, off] = await Promise.all([
      render({ values: [ISTIO_VALUES], set: ['istio.checksInFlight=40'] }),
      render({ values: [ISTIO_VALUES], set: ['authz.replicas=3', 'authz.workers=2'], release: 'gov', namespace: 'authz' }),
      render({ values: [ISTIO_VALUES], set: ['istio.destinationRule=false'] }),
    ]);
    expect(poolOf(destinationRule(explicit))).toEqual({ http2MaxRequests: 40, http1MaxPendingRequests: 40 });
    const scaledDr = one(scaled, 'DestinationRule', 'gov-mem0-gov-authz');
    expect(poolOf(scaledDr)).toEqual({ http2MaxRequests: 96, http1MaxPendingRequests: 96 });
    expect(scaledDr.spec.host).toBe(`${one(scaled, 'Service', 'gov-mem0-gov-authz').metadata.name}.authz.svc.cluster.local`);
    expect(byKind(off, 'DestinationRule')).toEqual([]);
    // envoy.checksInFlight is the edge Envoy's, not the mesh's.
    expect(poolOf(destinationRule(await render({ values: [ISTIO_VALUES], set: ['envoy.checksInFlight=7'] })))).toEqual({ http2MaxRequests: 32, http1MaxPendingRequests: 32 });
    for (const r of [explicit, scaled]) {
      const out = await validate(r.text, KUBE_VERSIONS[1]);
      expect(out.summary).toEqual({ valid: r.objects.length, invalid: 0, errors: 0, skipped: 0 });
    }
  });

  it('the committed envoy/istio/ resources pass kubeconform -strict against the Istio CRD schemas', async () => {
    for (const file of ['authorization-policy.yaml', 'destination-rule.yaml']) {
      const text = readFileSync(join(ROOT, 'envoy', 'istio', file), 'utf8');
      const docs = parseAllDocuments(text).filter((d) => d.contents !== null);
      const out = await validate(text, KUBE_VERSIONS[1]);
      expect(out.resources.filter((x) => x.status !== 'statusValid'), file).toEqual([]);
      expect(out.summary, file).toEqual({ valid: docs.length, invalid: 0, errors: 0, skipped: 0 });
    }
  });
});

describe('NOTES.txt (what helm install prints)', () => {
  it('names every Secret the release\'s pods read, and which the chart created', async () => {
    const cases: [Rendered, RenderOptions][] = [[defaults, {}], [external, { release: 'x', namespace: 'prod', values: [EXTERNAL_VALUES] }]];
    for (const [r, opts] of cases) {
      const notes = await renderNotes(opts);
      const read = r.objects.filter((o) => ['StatefulSet', 'Deployment', 'Job'].includes(o.kind)).flatMap((w) => secretsOf(pod(w).spec));
      expect(read.length).toBeGreaterThan(4);
      for (const name of read) expect(notes, name).toContain(`secret/${name}`);
      for (const sec of byKind(r, 'Secret')) expect(notes).toMatch(new RegExp(`secret/${sec.metadata.name} key \\S+ \\(created by the chart\\)`));
    }
  });

  it('prints the Istio meshConfig entry of envoy/istio/mesh-config.yaml', async () => {
    const notes = await renderNotes({ values: [ISTIO_VALUES] });
    const lines = notes.split('\n');
    const from = lines.findIndex((l) => l.trim() === 'extensionProviders:');
    const to = lines.findIndex((l, i) => i > from && !l.startsWith('  '));
    expect(from).toBeGreaterThan(0);
    const printed = parse(lines.slice(from, to).join('\n')) as Any;
    const mesh = parse(readFileSync(join(ROOT, 'envoy', 'istio', 'mesh-config.yaml'), 'utf8')) as Any;
    expect(printed.extensionProviders).toEqual(mesh.spec.meshConfig.extensionProviders);
    expect(notes).toContain('DestinationRule mem0-gov-authz: at most 32 checks in flight from each sidecar');
    expect(await renderNotes({ values: [ISTIO_VALUES], set: ['istio.destinationRule=false'] })).not.toContain('DestinationRule');
  });
});

/** The env a container would see: $(VAR) expanded, secret files (projected volume items) written into `dir`. */
function containerEnv(c: Any, spec: Any, podName: string, dir: string): { env: Record<string, string>; files: Record<string, string> } {
  const env: Record<string, string> = {};
  const files: Record<string, string> = {};
  const secretMount = c.volumeMounts.find((m: Any) => m.name === 'secrets').mountPath as string;
  const projected = spec.volumes.find((v: Any) => v.name === 'secrets').projected.sources as Any[];
  for (const src of projected) {
    for (const item of src.secret.items) {
      const content = `value-of-${src.secret.name}-${item.key}`;
      files[item.path] = content;
      writeFileSync(join(dir, item.path), content);
    }
  }
  for (const e of c.env as Any[]) {
    if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = podName;
    else if (typeof e.value === 'string') env[e.name] = e.value.replace(/\$\(([A-Z_]+)\)/g, (_: string, v: string) => env[v] ?? '');
  }
  for (const [k, v] of Object.entries(env)) {
    if (k.endsWith('_FILE') && v.startsWith(`${secretMount}/`)) {
      const name = v.slice(secretMount.length + 1);
      expect(files[name], `${k} names ${name}, which the projected volume provides`).toBeDefined();
      env[k] = join(dir, name);
    }
  }
  return { env, files };
}

function secretsOf(spec: Any): string[] {
  return spec.volumes.flatMap((v: Any) => [...(v.secret ? [v.secret.secretName] : []), ...(v.projected?.sources ?? []).map((s: Any) => s.secret?.name).filter(Boolean)]);
}

/** `envoy --mode validate` (Envoy 1.40 from bootstrap) on a rendered config; certificate and CA
 * paths are pointed at files of a throwaway dev CA, nothing else changes. */
async function expectEnvoyAccepts(config: string, extraFiles: Record<string, 'ca'> = {}): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mem0gov-chart-envoy-'));
  try {
    const certs = await generateDevCerts(dir);
    let text = config.replaceAll(ENVOY_POD.certFile, certs.certFile).replaceAll(ENVOY_POD.keyFile, certs.keyFile);
    for (const path of Object.keys(extraFiles)) text = text.replaceAll(path, certs.caFile);
    const file = join(dir, 'envoy.yaml');
    writeFileSync(file, text);
    const r = await execFileP(tool('envoy'), ['--mode', 'validate', '-c', file, '--log-level', 'warn'], { cwd: dir, timeout: 30_000 })
      .then((x) => x.stdout + x.stderr, (e: { stdout?: string; stderr?: string }) => `FAILED ${e.stdout ?? ''}${e.stderr ?? ''}`);
    expect(r).toMatch(/configuration '.*' OK/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

