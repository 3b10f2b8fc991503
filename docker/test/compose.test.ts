// The compose stack, checked without a Docker engine: dclint (compose spec + best practices),
// no secret in any file, hardening on every service, the authz image, and gen-secrets.sh
// producing every secret the stack references.
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../authz/src/service-config.js';
import { loadJwtConfig } from '../../authz/src/identity/config.js';
import { ROOT } from '../../testing/tools.js';
import { IMAGE_GID, IMAGE_UID, LAYOUT } from '../../deploy/image/layout.js';

const DOCKER = join(ROOT, 'docker');
const COMPOSE_PATH = join(DOCKER, 'compose.yaml');
const composeText = readFileSync(COMPOSE_PATH, 'utf8');

interface Healthcheck { test?: unknown; disable?: boolean }
interface SecretRef { source: string; target?: string }
interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string>;
  secrets?: (string | SecretRef)[];
  healthcheck?: Healthcheck;
  restart?: string;
  read_only?: boolean;
  security_opt?: string[];
  ports?: string[];
  network_mode?: string;
  working_dir?: string;
  volumes?: (string | { type: string; source: string; target: string; read_only?: boolean })[];
  entrypoint?: string[];
  command?: string[];
}
interface Compose {
  services: Record<string, Service>;
  secrets: Record<string, { file: string }>;
  volumes: Record<string, unknown>;
}
const compose = parse(composeText) as Compose;
const services = Object.entries(compose.services);

/** Services allowed to deviate, each with the reason the compose file also states. */
const NO_HEALTHCHECK: Record<string, string> = { 'edge-pod': 'pause image: no shell or binary to probe with' };
const WRITABLE_ROOT: Record<string, string> = { keycloak: 'start-dev re-augments Quarkus under /opt/keycloak' };

/** Upstream's server/ directory at the commit docs/mem0-compatibility.md names as tested. */
const MEM0_COMMIT = '8d5b7865bd0521e75fe9ab1b260eeccc83f8a378';
const MEM0_SERVER_GIT = `https://github.com/mem0ai/mem0.git#${MEM0_COMMIT}:server`;

const SECRETISH_KEY = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CHECKPOINT_KEY)/i;

function secretNames(svc: Service): Set<string> {
  return new Set((svc.secrets ?? []).map((s) => (typeof s === 'string' ? s : s.source)));
}
function secretTargets(svc: Service): Set<string> {
  return new Set((svc.secrets ?? []).map((s) => (typeof s === 'string' ? `/run/secrets/${s}` : s.target ?? `/run/secrets/${s.source}`)));
}

describe('docker/compose.yaml', () => {
  it('passes dclint with zero errors and zero warnings', () => {
    const out = execFileSync(join(ROOT, 'node_modules', '.bin', 'dclint'), ['-f', 'json', COMPOSE_PATH], { cwd: ROOT, encoding: 'utf8' });
    const report = JSON.parse(out) as { errorCount: number; warningCount: number; messages: unknown[] }[];
    expect(report).toHaveLength(1);
    expect(report[0]!.messages).toEqual([]);
    expect(report[0]!.errorCount).toBe(0);
    expect(report[0]!.warningCount).toBe(0);
  });

  it('runs our image\'s compiled entry points only: every dist/authz/*.js command has its bin or main source', () => {
    // The image's ENTRYPOINT is node; a command naming a module that only exports functions (or
    // a TypeScript file not in the image) would exit 0 having done nothing.
    const entries = new Set(['dist/authz/main.js', 'dist/authz/cli/bin.js']);
    for (const [name, svc] of Object.entries(compose.services as Record<string, { build?: { dockerfile?: string }; command?: string[] }>)) {
      if (svc.build?.dockerfile !== 'docker/Dockerfile' || svc.command === undefined) continue;
      expect(entries.has(svc.command[0]!), `${name}: ${svc.command.join(' ')}`).toBe(true);
      expect(existsSync(join(ROOT, svc.command[0]!.replace(/^dist\//, '').replace(/\.js$/, '.ts').replace(/^authz\//, 'authz/src/'))), name).toBe(true);
    }
  });

  it('has every service the stack needs', () => {
    for (const name of ['envoy', 'authz', 'redis', 'postgres', 'keycloak', 'mem0', 'mem0-db', 'mem0-migrate', 'prometheus', 'grafana', 'loki', 'alloy']) {
      expect(compose.services, name).toHaveProperty(name);
    }
  });

  it('holds no literal secret: secret-looking variables are *_FILE paths under /run/secrets', () => {
    for (const [name, svc] of services) {
      for (const [key, value] of Object.entries(svc.environment ?? {})) {
        if (!SECRETISH_KEY.test(key)) continue;
        expect(key, `${name}.${key}`).toMatch(/_FILE$/);
        expect(String(value), `${name}.${key}`).toMatch(/^\/run\/secrets\/[a-z0-9_]+$/);
      }
    }
  });

  it('every /run/secrets path a service reads is a secret mounted into that service', () => {
    for (const [name, svc] of services) {
      const text = JSON.stringify(svc);
      const used = [...text.matchAll(/\/run\/secrets\/([a-z0-9_]+)/g)].map((m) => `/run/secrets/${m[1]}`);
      const mounted = secretTargets(svc);
      for (const path of used) expect(mounted.has(path), `${name} reads ${path}`).toBe(true);
      for (const s of secretNames(svc)) expect(compose.secrets, `${name} secret ${s}`).toHaveProperty(s);
    }
  });

  it('contains no secret-looking literal anywhere in the file', () => {
    expect(composeText).not.toMatch(/-----BEGIN/);
    // key=value / key: value pairs with a literal password or key (not a *_FILE path or a $(cat ...)).
    const assignments = [...composeText.matchAll(/^[ \t-]*(?:export[ \t]+)?([A-Z0-9_]*(?:PASSWORD|SECRET|TOKEN|API_KEY)[A-Z0-9_]*)[ \t]*[:=][ \t]*(\S.*)$/gm)];
    expect(assignments.length).toBeGreaterThan(5);
    for (const [, key, value] of assignments) {
      if (/_FILE$/.test(key!)) continue;
      expect(value, key).toMatch(/^"?\$\$\(cat \/run\/secrets\/|^\/run\/secrets\//);
    }
    // Long random-looking tokens (hex / base64) do not belong in a compose file.
    const tokens = composeText.match(/[A-Za-z0-9+=]{24,}/g) ?? [];
    // (The one exception: the public commit Mem0's server is built from.)
    expect(tokens.filter((t) => /\d/.test(t) && /[a-zA-Z]/.test(t) && t !== MEM0_COMMIT)).toEqual([]);
  });

  it('hardens every service: restart policy, no-new-privileges, read-only root unless documented', () => {
    for (const [name, svc] of services) {
      expect(svc.restart, `${name}.restart`).toBeDefined();
      expect(svc.security_opt ?? [], name).toContain('no-new-privileges:true');
      if (WRITABLE_ROOT[name] === undefined) expect(svc.read_only, `${name}.read_only`).toBe(true);
      else expect(composeText).toContain('Not read-only: start-dev');
    }
  });

  it('every service has a healthcheck, an image HEALTHCHECK, or a documented reason', () => {
    const dockerfile = readFileSync(join(DOCKER, 'Dockerfile'), 'utf8');
    for (const [name, svc] of services) {
      if (svc.healthcheck?.test !== undefined) continue;
      if (svc.healthcheck?.disable === true) {
        expect(svc.restart, `${name}: only one-shot jobs may disable the healthcheck`).toBe('no');
        continue;
      }
      if (svc.build?.dockerfile === 'docker/Dockerfile') {
        expect(dockerfile).toMatch(/^HEALTHCHECK [^\n]*\\\n\s*CMD [^\n]*9192\/healthz/m);
        continue;
      }
      expect(NO_HEALTHCHECK[name], `${name} has no healthcheck and no documented reason`).toBeDefined();
      expect(composeText).toContain('No healthcheck: the pause image');
    }
  });

  it('pins image tags; Mem0 is built from upstream\'s server/ at a pinned commit', () => {
    for (const [name, svc] of services) {
      if (svc.image === undefined) {
        expect(svc.build, name).toBeDefined();
        continue;
      }
      expect(svc.image, name).toMatch(/:[A-Za-z0-9][\w.-]*$/);
      expect(svc.image, name).not.toMatch(/:(latest|[a-z-]*latest)$/);
    }
    // Not the published mem0/mem0-api-server image: `latest` only, built by no upstream workflow.
    for (const [name, svc] of services) expect(svc.image ?? '', name).not.toMatch(/mem0-api-server/);
    for (const name of ['mem0', 'mem0-migrate']) {
      const build = compose.services[name]!.build!;
      expect(build.context, name).toBe(`\${MEM0_SERVER_CONTEXT:-${MEM0_SERVER_GIT}}`);
      expect(build.dockerfile, name).toBe('Dockerfile');
    }
  });

  it('publishes ports on loopback only, and keeps Mem0 off the compose network', () => {
    for (const [name, svc] of services) {
      for (const p of svc.ports ?? []) expect(p, name).toMatch(/^127\.0\.0\.1:/);
    }
    expect(compose.services.mem0!.network_mode).toBe('service:edge-pod');
    expect(JSON.stringify(compose.services.mem0!.entrypoint)).toContain('--host 127.0.0.1 --port 9006');
  });

  it('mounts the committed envoy/envoy.yaml and puts the TLS secrets where it looks for them', () => {
    const envoy = compose.services.envoy!;
    expect(envoy.image).toMatch(/^envoyproxy\/envoy:v1\.40\./);
    const mount = (envoy.volumes ?? []).find((v) => typeof v !== 'string' && v.source === '../envoy/envoy.yaml');
    expect(mount).toBeDefined();
    expect(existsSync(join(DOCKER, '../envoy/envoy.yaml'))).toBe(true);
    const envoyCfg = readFileSync(join(ROOT, 'envoy', 'envoy.yaml'), 'utf8');
    const certPaths = [...envoyCfg.matchAll(/filename:\s*([^\s}]+)/g)].map((m) => m[1]!);
    expect(certPaths.length).toBeGreaterThan(0);
    const targets = secretTargets(envoy);
    for (const p of certPaths) {
      const abs = p.startsWith('/') ? p : posix.join(envoy.working_dir ?? '/', p);
      expect(targets.has(abs), `envoy reads ${abs}`).toBe(true);
    }
    // envoy.yaml expects authz and Mem0 on loopback: they must share envoy's network namespace.
    expect(compose.services.authz!.network_mode).toBe(envoy.network_mode);
  });

  it('gives authz an environment its config readers accept (issuer of the mem0 realm)', () => {
    const env = compose.services.authz!.environment!;
    for (const k of ['MEM0_GOV_PG_URL', 'MEM0_GOV_PG_PASSWORD_FILE', 'MEM0_GOV_REDIS_URL', 'MEM0_GOV_REDIS_PASSWORD_FILE', 'MEM0_GOV_MEM0_URL',
      'MEM0_GOV_MEM0_API_KEY_FILE', 'MEM0_GOV_JWT_ISSUERS', 'MEM0_GOV_JWT_AUDIENCE', 'MEM0_GOV_AUDIT_CHECKPOINT_KEY_FILE']) {
      expect(env, k).toHaveProperty(k);
    }
    const jwt = loadJwtConfig(env);
    expect(jwt.audience).toEqual(['mem0-gov']);
    const kcHost = compose.services.keycloak!.environment!.KC_HOSTNAME!;
    const realm = (JSON.parse(readFileSync(join(ROOT, 'iam', 'keycloak', 'realm-mem0.json'), 'utf8')) as { realm: string }).realm;
    expect(jwt.issuers.map((i) => i.issuer)).toEqual([`${kcHost}/realms/${realm}`]);
    expect(jwt.issuers[0]!.keys).toEqual({ kind: 'jwks_url', url: `http://keycloak:8080/realms/${realm}/protocol/openid-connect/certs` });
    // The runtime role can only INSERT/SELECT; migrations run as the owner in a one-shot job.
    expect(env.MEM0_GOV_PG_URL).toContain('mem0gov_writer@');
    expect(compose.services['audit-migrate']!.environment!.MEM0_GOV_PG_URL).toContain('mem0gov_owner@');
  });
});

describe('docker/compose.yaml: the real Mem0 server', () => {
  const mem0 = compose.services.mem0!;
  const migrate = compose.services['mem0-migrate']!;
  const db = compose.services['mem0-db']!;
  const depends = (svc: Service): Record<string, { condition: string }> => (svc as { depends_on?: Record<string, { condition: string }> }).depends_on ?? {};
  /** The `sh -c` line, as the container's shell sees it (compose turns `$$` into `$`). */
  const script = (svc: Service): string => {
    expect(svc.entrypoint?.slice(0, 2)).toEqual(['sh', '-c']);
    return svc.entrypoint![2]!.replaceAll('$$', '$');
  };

  it('names the tested commit in docs/mem0-compatibility.md', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'mem0-compatibility.md'), 'utf8');
    expect(doc).toContain(MEM0_COMMIT.slice(0, 7));
  });

  it('starts Mem0 only after its alembic migrations ran (one-shot, same build) on a healthy database', () => {
    expect(migrate.build).toEqual(mem0.build);
    expect(depends(mem0)['mem0-migrate']).toEqual({ condition: 'service_completed_successfully' });
    expect(depends(mem0)['mem0-db']).toEqual({ condition: 'service_healthy' });
    expect(depends(migrate)['mem0-db']).toEqual({ condition: 'service_healthy' });
    expect(script(migrate)).toMatch(/&& exec alembic upgrade head$/);
    expect(migrate.restart).toBe('no');
    // The migrations write where the server reads: same host, role, password and app database.
    for (const k of ['POSTGRES_HOST', 'POSTGRES_PORT', 'POSTGRES_USER', 'APP_DB_NAME']) {
      expect(migrate.environment![k], k).toBe(mem0.environment![k]);
    }
    expect(script(migrate)).toContain('POSTGRES_PASSWORD="$(cat /run/secrets/mem0_db_password)"');
  });

  it('runs Mem0 with auth on, its ADMIN_API_KEY and JWT_SECRET from secrets, without --reload, on the pod loopback', () => {
    const sh = script(mem0);
    expect(sh).toContain('ADMIN_API_KEY="$(cat /run/secrets/mem0_admin_api_key)"');
    expect(sh).toContain('JWT_SECRET="$(cat /run/secrets/mem0_jwt_secret)"');
    expect(sh).toContain('POSTGRES_PASSWORD="$(cat /run/secrets/mem0_db_password)"');
    expect(sh).toMatch(/&& exec uvicorn main:app --host 127\.0\.0\.1 --port 9006$/);
    expect(sh).not.toContain('--reload');
    expect(mem0.environment!.AUTH_DISABLED).toBe('false');
    expect(mem0.environment!.MEM0_TELEMETRY).toBe('false');
    // Read-only root: everything Mem0 writes goes to its volume.
    const volume = (mem0.volumes ?? []).find((v): v is string => typeof v === 'string' && v.endsWith(':/app/history'));
    expect(volume).toBeDefined();
    for (const k of ['HISTORY_DB_PATH', 'MEM0_DIR']) expect(mem0.environment![k], k).toMatch(/^\/app\/history\//);
  });

  it('gives authz the same secret as Mem0\'s ADMIN_API_KEY, and no other service sees it', () => {
    expect(compose.services.authz!.environment!.MEM0_GOV_MEM0_API_KEY_FILE).toBe('/run/secrets/mem0_admin_api_key');
    expect(compose.services.authz!.environment!.MEM0_GOV_MEM0_URL).toBe('http://127.0.0.1:9006');
    const holders = services.filter(([, svc]) => secretNames(svc).has('mem0_admin_api_key')).map(([n]) => n).sort();
    expect(holders).toEqual(['authz', 'mem0']);
    expect(services.filter(([, svc]) => secretNames(svc).has('mem0_jwt_secret')).map(([n]) => n)).toEqual(['mem0']);
  });

  it('creates Mem0\'s app database at the first start of mem0-db, with the name Mem0 uses', () => {
    expect(db.environment!.MEM0_APP_DB).toBe(mem0.environment!.APP_DB_NAME);
    expect(db.environment!.POSTGRES_DB).toBe(mem0.environment!.POSTGRES_DB);
    expect(db.environment!.POSTGRES_USER).toBe(mem0.environment!.POSTGRES_USER);
    const init = (db.volumes ?? []).find((v) => typeof v !== 'string' && v.target === '/docker-entrypoint-initdb.d');
    expect(init).toMatchObject({ type: 'bind', source: './mem0-db/init', read_only: true });
    expect(existsSync(join(DOCKER, 'mem0-db', 'init', '01-mem0-app-db.sh'))).toBe(true);
  });
});

describe('docker/Dockerfile', () => {
  const text = readFileSync(join(DOCKER, 'Dockerfile'), 'utf8');
  const stages = text.split(/^FROM /m).slice(1);
  const stage = (name: string): string => {
    const found = stages.find((st) => new RegExp(`^\\S+ AS ${name}\\s*$`, 'm').test(st.split('\n')[0]!));
    expect(found, `stage ${name}`).toBeDefined();
    return found!;
  };
  const last = stages[stages.length - 1]!;
  /** JSON-form instruction of the final stage (ENTRYPOINT, CMD). */
  const execForm = (instr: string): string[] => {
    const m = [...last.matchAll(new RegExp(`^${instr} (\\[.*\\])\\s*$`, 'gm'))].pop();
    expect(m, instr).toBeDefined();
    return JSON.parse(m![1]!) as string[];
  };

  it('is multi-stage and its final stage runs as a numeric, non-root USER that has a passwd entry', () => {
    expect(stages.length).toBeGreaterThanOrEqual(4);
    const users = [...last.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]!);
    expect(users.length).toBeGreaterThan(0);
    // Numeric uid:gid, so Kubernetes can verify runAsNonRoot; the chart's runAsUser is the same.
    expect(users[users.length - 1]).toBe(`${IMAGE_UID}:${IMAGE_GID}`);
    expect(users[users.length - 1]).not.toMatch(/^(root|0)(:.*)?$/);
    // os.userInfo() (the CLI's default actor) needs the uid in /etc/passwd.
    expect(last).toMatch(new RegExp(`useradd [^\\n]*--uid ${IMAGE_UID} --gid ${IMAGE_GID}`));
    expect(last).toMatch(new RegExp(`groupadd [^\\n]*--gid ${IMAGE_GID}`));
    // The only path the service user owns: the spool.
    expect(last).toContain(`chown ${IMAGE_UID}:${IMAGE_GID} ${LAYOUT.stateDir}`);
    expect(last).toMatch(new RegExp(`^WORKDIR ${LAYOUT.workdir}$`, 'm'));
  });

  it('runs compiled JavaScript with plain node: no tsx, no TypeScript in the runtime stage', () => {
    expect(execForm('ENTRYPOINT')).toEqual(['node']);
    expect(execForm('CMD')).toEqual([LAYOUT.main]);
    for (const line of last.split('\n').filter((l) => /^(ENTRYPOINT|CMD|RUN|HEALTHCHECK|\s+CMD)/.test(l))) {
      expect(line, line).not.toMatch(/tsx|--import|--loader|\.ts\b/);
    }
    // The runtime stage takes dist/ from the build stage and no sources.
    expect(last).toMatch(/^COPY --from=build [^\n]*\/app\/dist \.\/dist$/m);
    expect(last).not.toMatch(/authz\/src/);
    expect(text).toMatch(/^HEALTHCHECK [^\n]*\\\n\s*CMD [^\n]*http:\/\/127\.0\.0\.1:9192\/healthz/m);
  });

  it('compiles in a build stage with deploy/image/build-js.ts (what deploy/image/test runs and starts)', () => {
    const build = stage('build');
    expect(build).toMatch(/npm ci --ignore-scripts/);
    expect(build).toContain('COPY tsconfig.json tsconfig.build.json ./');
    expect(build).toMatch(new RegExp(`^RUN node --import tsx deploy/image/build-js\\.ts --root ${LAYOUT.workdir} `, 'm'));
    for (const f of [LAYOUT.main, LAYOUT.cli]) expect(build).toContain(`test -s ${f}`);
    expect(existsSync(join(ROOT, 'deploy', 'image', 'build-js.ts'))).toBe(true);
    expect(existsSync(join(ROOT, 'tsconfig.build.json'))).toBe(true);
  });

  it('installs production dependencies only, from the lock file, for the runtime', () => {
    const deps = stage('deps');
    expect(deps).toMatch(/COPY package\.json package-lock\.json/);
    expect(deps).toMatch(/npm ci --omit=dev/);
    expect(last).toMatch(/^COPY --from=deps [^\n]*\/app\/node_modules \.\/node_modules$/m);
  });

  it('keeps secrets, state and tools out of the build context', () => {
    const ignore = readFileSync(join(DOCKER, 'Dockerfile.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    expect(ignore).toContain('*'); // allow-list
    expect(ignore.filter((l) => l.startsWith('!'))).toEqual(['!package.json', '!package-lock.json', '!authz/src/**', '!audit/**', '!policies/**',
      '!tsconfig.json', '!tsconfig.build.json', '!deploy/image/**']);
    expect(ignore).toContain('**/test/**');
  });

  it('git-ignores docker/secrets/ except its .gitignore', () => {
    expect(readFileSync(join(DOCKER, 'secrets', '.gitignore'), 'utf8').split('\n').filter(Boolean)).toEqual(['*', '!.gitignore']);
  });
});

describe('docker/gen-secrets.sh', () => {
  let dir: string;
  let out: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mem0gov-secrets-'));
    out = join(dir, 'secrets');
    execFileSync('bash', [join(DOCKER, 'gen-secrets.sh')], { env: { ...process.env, MEM0_GOV_SECRETS_DIR: out, OPENAI_API_KEY: '' }, stdio: 'pipe' });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const secretFile = (name: string): string => join(out, compose.secrets[name]!.file.replace(/^\.\/secrets\//, ''));

  it('produces every secret file the compose file references', () => {
    for (const [name, s] of Object.entries(compose.secrets)) {
      expect(s.file, name).toMatch(/^\.\/secrets\//);
      expect(existsSync(secretFile(name)), name).toBe(true);
      // The LLM key is the operator's; every generated secret is non-empty.
      if (name !== 'openai_api_key') expect(readFileSync(secretFile(name), 'utf8').length, name).toBeGreaterThan(0);
    }
    expect(statSync(out).mode & 0o777).toBe(0o700);
  });

  it('generates strong, distinct random passwords without a trailing newline', () => {
    const names = Object.keys(compose.secrets).filter((n) => /password|api_key$|secret$/.test(n) && n !== 'openai_api_key');
    expect(names).toEqual(expect.arrayContaining(['mem0_admin_api_key', 'mem0_jwt_secret']));
    const values = names.map((n) => readFileSync(secretFile(n), 'utf8'));
    for (const v of values) expect(v).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(values).size).toBe(values.length);
  });

  it('makes an Ed25519 checkpoint key and a CA-signed TLS certificate for localhost', () => {
    const key = createPrivateKey(readFileSync(secretFile('audit_checkpoint_key')));
    expect(key.asymmetricKeyType).toBe('ed25519');
    const pub = createPublicKey(readFileSync(join(out, 'audit_checkpoint_key.pub.pem')));
    expect(pub.export({ format: 'jwk' })).toEqual(createPublicKey(key).export({ format: 'jwk' }));
    const ca = new X509Certificate(readFileSync(join(out, 'tls', 'ca.crt')));
    const server = new X509Certificate(readFileSync(secretFile('tls_server_crt')));
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.subjectAltName).toContain('DNS:localhost');
    expect(server.checkPrivateKey(createPrivateKey(readFileSync(secretFile('tls_server_key'))))).toBe(true);
  });

  it('with the compose environment, gives authz a configuration its loader accepts', () => {
    // /run/secrets/<name> inside the container = the generated file here.
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(compose.services.authz!.environment!)) {
      const m = /^\/run\/secrets\/([a-z0-9_]+)$/.exec(v);
      env[k] = m ? secretFile(m[1]!) : v;
    }
    const cfg = loadConfig(env);
    expect(new URL(cfg.audit.pgUrl).password).toBe(readFileSync(secretFile('pg_writer_password'), 'utf8'));
    expect(cfg.mem0ApiKey).toBe(readFileSync(secretFile('mem0_admin_api_key'), 'utf8'));
    expect(cfg.audit.checkpointKeyPem).toContain('PRIVATE KEY');
    expect(cfg.audit.migrate).toBe(false);
    expect(cfg.audit.spoolDir.startsWith('/app/.state/')).toBe(true);
  });

  it('keeps an older mem0_api_key as mem0_admin_api_key (Mem0 and authz keep agreeing)', () => {
    const old = mkdtempSync(join(tmpdir(), 'mem0gov-secrets-old-'));
    try {
      const outOld = join(old, 'secrets');
      mkdirSync(outOld, { recursive: true });
      writeFileSync(join(outOld, 'mem0_api_key'), 'a'.repeat(64));
      execFileSync('bash', [join(DOCKER, 'gen-secrets.sh')], { env: { ...process.env, MEM0_GOV_SECRETS_DIR: outOld, OPENAI_API_KEY: '' }, stdio: 'pipe' });
      expect(readFileSync(join(outOld, 'mem0_admin_api_key'), 'utf8')).toBe('a'.repeat(64));
      expect(existsSync(join(outOld, 'mem0_api_key'))).toBe(false);
    } finally {
      rmSync(old, { recursive: true, force: true });
    }
  });

  it('is idempotent: a second run keeps every existing secret', () => {
    const before = Object.keys(compose.secrets).map((n) => readFileSync(secretFile(n), 'utf8'));
    execFileSync('bash', [join(DOCKER, 'gen-secrets.sh')], { env: { ...process.env, MEM0_GOV_SECRETS_DIR: out }, stdio: 'pipe' });
    const after = Object.keys(compose.secrets).map((n) => readFileSync(secretFile(n), 'utf8'));
    expect(after).toEqual(before);
  });
});
