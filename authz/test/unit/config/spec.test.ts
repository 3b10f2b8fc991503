// The one configuration spec (authz/src/config/spec.ts): every MEM0_GOV_* name used anywhere is
// declared there, every declaration is read by exactly one loader through read()/readParsed(),
// nothing outside config/ reads the environment or declares a default, and the generated
// configuration tables are current (regenerate: npx tsx scripts/docs.ts).
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NAMES, PREFIX, SPEC, isSecret, isSecretValueVariable, knownVariables, unknownVariables, warnUnknownVariables, type VarSpec } from '../../../src/config/spec.js';
import { read, readParsed, readSpec } from '../../../src/config/read.js';
import { ConfigError } from '../../../src/config/env.js';
import { loadConfig } from '../../../src/service-config.js';
import { cliStart, loadCliConfig } from '../../../src/config/cli.js';
import { loadLogConfig } from '../../../src/config/log.js';
import { loadGateConfig } from '../../../src/gate/config.js';
import { DEFAULT_PHI_LABELS } from '../../../src/request/phi.js';
import { parseRate } from '../../../src/ratelimit/rate.js';
import { DOCS, configTable } from '../../../../scripts/docs.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const SRC = join(ROOT, 'authz', 'src');
const rel = (f: string): string => relative(ROOT, f).split('\\').join('/');

function files(dir: string, exts: string[]): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (f === 'node_modules' || f.startsWith('.')) return [];
    return statSync(p).isDirectory() ? files(p, exts) : exts.some((e) => p.endsWith(e)) ? [p] : [];
  });
}

/** Source without `//` line comments and block comments (prose may say "process.env"). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|\s)\/\/.*$/gm, '$1');
}

const sources = files(SRC, ['.ts']).map((f) => ({ file: rel(f), text: readFileSync(f, 'utf8') }));
const inConfig = (f: string): boolean => f.startsWith('authz/src/config/');

/**
 * The only places outside authz/src/config/ that touch process.env, and why. Entry points hand
 * process.env to config/ and nothing else reads it.
 */
const PROCESS_ENV_ALLOWED: Record<string, string> = {
  'authz/src/main.ts': 'service entry point: hands process.env to config/ (loadLogConfig, startService → loadConfig)',
  'authz/src/cli/bin.ts': 'CLI entry point: hands process.env to config/cli.ts (cliStart) and to the CLI',
  'authz/src/cli/main.ts': "CLI main's default parameter `env = process.env` (bin.ts passes it explicitly)",
  'authz/src/content/safe-regex.ts': "sets RECHECK_SYNC_BACKEND=pure around the `recheck` library's check: that library's switch, not our configuration",
};

/**
 * Modules outside config/ that still read a MEM0_GOV_* variable directly instead of taking it
 * from a spec loader (config/cli.ts has the loader for each). To remove: use the loader, delete
 * the line here. Nothing may be added.
 */
const DIRECT_READS_PENDING: readonly string[] = [
];

/** read(env, 'NAME'), readParsed(env, 'NAME', …), in any loader. */
const READ_SITE = /\bread(?:Parsed)?\(\s*[\w.]+\s*,\s*'([A-Z0-9_]+)'/g;
/** Reading around the spec: env.MEM0_GOV_X, env['MEM0_GOV_X'], or config/env.ts's primitive readers. */
const DIRECT_READ = [
  /\benv\??\.MEM0_GOV_([A-Z0-9_]+)/g,
  /\benv\[\s*['"`]MEM0_GOV_([A-Z0-9_]+)/g,
  /(?<![\w.])(?:str|int|bool|list|url|secret|file|oneOf|raw)\(\s*[\w.]+\s*,\s*'([A-Z0-9_]+)'/g,
];
/** A whole MEM0_GOV_ name (not a prefix such as `MEM0_GOV_REDIS_*`). */
const NAME_USE = /MEM0_GOV_([A-Z0-9_]*[A-Z0-9])(?![A-Z0-9_*])/g;

describe('configuration spec', () => {
  it('README, audit/README.md and authz/src/gate/README.md carry the generated tables (regenerate: npx tsx scripts/docs.ts)', () => {
    for (const d of DOCS) {
      const text = readFileSync(d.path, 'utf8');
      expect(d.render(text), `${rel(d.path)} is stale: npx tsx scripts/docs.ts`).toBe(text);
      expect(text).toContain('<!-- config:start -->');
    }
    const table = configTable();
    for (const n of NAMES) expect(table).toContain(`| \`${n}\``);
  });

  /** Names with the prefix that are not the service's configuration, each with its reason. */
  const NOT_SERVICE_CONFIG = [
    'MEM0_GOV_BASE_URL', // client examples (examples/, docs/guides): where the agent finds Envoy
    'MEM0_GOV_CA_FILE', // client examples: the CA the agent trusts for Envoy
    'MEM0_GOV_AUTHZ_PORT', // docs/kubernetes.md: what Kubernetes service links would inject (turned off)
  ];

  it('declares every MEM0_GOV_* name used in authz/src, scripts/, testing/, bench/, compliance/, iam/, envoy/, docker/compose.yaml and the docs', () => {
    const scanned = [
      ...['authz/src', 'scripts', 'testing', 'bench', 'compliance', 'iam', 'envoy', 'docs'].flatMap((d) => files(join(ROOT, d), ['.ts', '.md', '.yaml', '.yml', '.sh', '.json'])),
      ...['docker/compose.yaml', 'docker/README.md', 'README.md', 'CONTRIBUTING.md', 'audit/README.md', 'policies/README.md'].map((f) => join(ROOT, f)),
    ];
    expect(scanned.length).toBeGreaterThan(50);
    const known = new Set([...knownVariables(), ...NOT_SERVICE_CONFIG]);
    const unknown = new Set<string>();
    for (const f of scanned) {
      for (const m of readFileSync(f, 'utf8').matchAll(NAME_USE)) if (!known.has(`MEM0_GOV_${m[1]}`)) unknown.add(`${rel(f)}: MEM0_GOV_${m[1]}`);
    }
    expect([...unknown], 'add them to authz/src/config/spec.ts (or fix the typo)').toEqual([]);
  });

  it('every entry is read by exactly one loader, through read() or readParsed()', () => {
    const sites = new Map<string, string[]>(NAMES.map((n) => [n, []]));
    for (const { file, text } of sources) {
      if (file === 'authz/src/config/read.ts' || file === 'authz/src/config/spec.ts') continue;
      for (const m of code(text).matchAll(READ_SITE)) {
        expect(NAMES, `${file} reads ${m[1]}, which the spec does not declare`).toContain(m[1]);
        sites.get(m[1]!)!.push(file);
      }
    }
    const unread = [...sites].filter(([, s]) => s.length === 0).map(([n]) => n);
    const twice = [...sites].filter(([, s]) => s.length > 1).map(([n, s]) => `${n}: ${s.join(', ')}`);
    expect(unread, 'declared but never read').toEqual([]);
    expect(twice, 'read in more than one place').toEqual([]);
  });

  it('nothing outside config/ reads a MEM0_GOV_* variable around the spec (pending CLI modules listed)', () => {
    const found = new Set<string>();
    for (const { file, text } of sources) {
      if (inConfig(file)) continue;
      for (const re of DIRECT_READ) for (const m of code(text).matchAll(re)) found.add(`${file} ${m[1]}`);
    }
    expect([...found].sort()).toEqual([...DIRECT_READS_PENDING].sort());
  });

  it('no process.env outside authz/src/config/, except the listed entry points and third-party switch', () => {
    const users = sources.filter(({ file, text }) => !inConfig(file) && /\bprocess\.env\b/.test(code(text))).map((s) => s.file).sort();
    expect(users).toEqual(Object.keys(PROCESS_ENV_ALLOWED).sort());
    expect(code(readFileSync(join(SRC, 'content', 'safe-regex.ts'), 'utf8')).match(/process\.env\.(\w+)/g)?.every((m) => m === 'process.env.RECHECK_SYNC_BACKEND')).toBe(true);
    expect(code(readFileSync(join(SRC, 'logger.ts'), 'utf8'))).not.toMatch(/process\.env/);
  });

  it('each entry is complete and its default obeys its own rules', () => {
    for (const n of NAMES) {
      const s: VarSpec = SPEC[n];
      expect(s.description.length, n).toBeGreaterThan(5);
      expect(n, 'names are written without the prefix').not.toMatch(/^MEM0_GOV_/);
      if ('default' in s && typeof s.default === 'function') expect(s.defaultDoc, `${n}: computed default needs defaultDoc`).toBeDefined();
      if (s.type === 'int' && s.default !== undefined) {
        expect(s.default, n).toBeGreaterThanOrEqual(s.min);
        expect(s.default, n).toBeLessThanOrEqual(s.max ?? Number.MAX_SAFE_INTEGER);
      }
      if (s.type === 'enum') {
        if (s.default !== undefined) expect(s.values, n).toContain(s.default);
        if (s.cliDefault !== undefined) expect(s.values, n).toContain(s.cliDefault);
      }
      if (s.type === 'list' && s.values && s.default) for (const v of s.default) expect(s.values, n).toContain(v);
      if (n.endsWith('_FILE')) expect(['path', 'secretFile'], `${n}: a *_FILE name is a path`).toContain(s.type);
    }
    // Defaults parse: the service and CLI loaders accept an empty environment (but the issuer).
    expect(() => loadConfig({ MEM0_GOV_JWT_ISSUERS: 'https://idp.example/realms/x' })).not.toThrow();
    expect(() => loadCliConfig({})).not.toThrow();
    expect(SPEC.PHI_LABELS.default).toEqual(DEFAULT_PHI_LABELS);
  });
});

describe('read', () => {
  it('types come from the spec: defaults, bounds, CLI defaults', () => {
    expect(read({}, 'OWNER_TIMEOUT_MS')).toBe(200);
    expect(read({ MEM0_GOV_OWNER_TIMEOUT_MS: '1500' }, 'OWNER_TIMEOUT_MS')).toBe(1500);
    expect(read({ MEM0_GOV_OWNER_TIMEOUT_MS: '' }, 'OWNER_TIMEOUT_MS')).toBe(200);
    expect(() => read({ MEM0_GOV_OWNER_TIMEOUT_MS: '5' }, 'OWNER_TIMEOUT_MS')).toThrow('MEM0_GOV_OWNER_TIMEOUT_MS: must be between 10 and 30000, got 5');
    expect(() => read({ MEM0_GOV_GRPC_PORT: 'ninety' }, 'GRPC_PORT')).toThrow('MEM0_GOV_GRPC_PORT: expected an integer, got "ninety"');
    expect(() => read({ MEM0_GOV_MEM0_URL: 'not a url' }, 'MEM0_URL')).toThrow('MEM0_GOV_MEM0_URL: expected a URL');
    expect(read({}, 'MEM0_API_KEY')).toBeUndefined();
    expect(read({}, 'LOG_LEVEL')).toBe('info');
    expect(read({}, 'LOG_LEVEL', 'cli')).toBe('warn');
    expect(read({ MEM0_GOV_LOG_LEVEL: 'debug' }, 'LOG_LEVEL', 'cli')).toBe('debug');
    expect(() => read({ MEM0_GOV_LOG_LEVEL: 'loud' }, 'LOG_LEVEL')).toThrow('MEM0_GOV_LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "loud"');
    expect(loadLogConfig({})).toEqual({ level: 'info', destination: 'stdout' });
    expect(loadLogConfig({}, 'cli')).toEqual({ level: 'warn', destination: 'stderr' });
    expect(() => read({ MEM0_GOV_AUDIT_CHAIN_ID: 'a b' }, 'AUDIT_CHAIN_ID')).toThrow('MEM0_GOV_AUDIT_CHAIN_ID: use 1-128 characters');
    expect(() => read({ MEM0_GOV_JWT_ALGORITHMS: 'ES256,HS256' }, 'JWT_ALGORITHMS')).toThrow('MEM0_GOV_JWT_ALGORITHMS: HS256 is not allowed (asymmetric only');
    expect(read({ MEM0_GOV_REDIS_CLUSTER_NODES: 'a:1, b:2' }, 'REDIS_CLUSTER_NODES')).toEqual([{ host: 'a', port: 1 }, { host: 'b', port: 2 }]);
    expect(readParsed({}, 'LIMIT_DEFAULT', parseRate).text).toBe('600/m');
    expect(() => readParsed({ MEM0_GOV_LIMIT_DEFAULT: 'fast' }, 'LIMIT_DEFAULT', parseRate)).toThrow(/^MEM0_GOV_LIMIT_DEFAULT: malformed rate/);
    expect(() => loadGateConfig({ MEM0_GOV_BREAKGLASS_MAX_TTL: 'forever' })).toThrow(/^MEM0_GOV_BREAKGLASS_MAX_TTL: malformed duration/);
  });

  it('a required entry without a value is a ConfigError naming it', () => {
    const s: VarSpec = { type: 'string', required: true, group: 'service', readBy: 'service', description: 'x' };
    expect(() => readSpec(s, {}, 'THING')).toThrow('MEM0_GOV_THING: required');
    expect(readSpec(s, { MEM0_GOV_THING: 'v' }, 'THING')).toBe('v');
  });

  it('every secret: the value or <NAME>_FILE, never both; the file is read, its path named on error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spec-'));
    const file = join(dir, 's');
    writeFileSync(file, 'from-file\n');
    const secrets = NAMES.filter((n) => SPEC[n].type === 'secret');
    expect(secrets).toEqual(expect.arrayContaining(['MEM0_API_KEY', 'REDIS_PASSWORD', 'PG_PASSWORD', 'PG_ADMIN_PASSWORD']));
    for (const n of secrets) {
      const name = n as 'MEM0_API_KEY';
      expect(read({ [PREFIX + n]: 'direct' }, name)).toBe('direct');
      expect(read({ [`${PREFIX}${n}_FILE`]: file }, name)).toBe('from-file');
      expect(() => read({ [PREFIX + n]: 'direct', [`${PREFIX}${n}_FILE`]: file }, name)).toThrow(ConfigError);
      expect(() => read({ [PREFIX + n]: 'direct', [`${PREFIX}${n}_FILE`]: file }, name)).toThrow(`set either ${PREFIX}${n} or ${PREFIX}${n}_FILE, not both`);
      expect(() => read({ [`${PREFIX}${n}_FILE`]: join(dir, 'missing') }, name)).toThrow(`${PREFIX}${n}_FILE: cannot read`);
      expect(isSecret(SPEC[n])).toBe(true);
      expect(isSecretValueVariable(PREFIX + n)).toBe(true);
      expect(isSecretValueVariable(`${PREFIX}${n}_FILE`)).toBe(false);
    }
    expect(read({ MEM0_GOV_AUDIT_CHECKPOINT_KEY_FILE: file }, 'AUDIT_CHECKPOINT_KEY_FILE')).toBe('from-file');
    expect(() => read({ MEM0_GOV_AUDIT_CHECKPOINT_KEY_FILE: join(dir, 'missing') }, 'AUDIT_CHECKPOINT_KEY_FILE')).toThrow(/^MEM0_GOV_AUDIT_CHECKPOINT_KEY_FILE: cannot read/);
    const text = configTable();
    expect(text).toContain('| `MEM0_API_KEY` (`_FILE`) |');
  });
});

describe('loaders', () => {
  it('PHI labels are read once, for the service (parse, owner lookup, answers)', () => {
    const base = { MEM0_GOV_JWT_ISSUERS: 'https://i' };
    expect(loadConfig(base).phiLabels).toEqual(['phi']);
    expect(loadConfig({ ...base, MEM0_GOV_PHI_LABELS: 'phi, hipaa' }).phiLabels).toEqual(['phi', 'hipaa']);
    expect(loadConfig({ ...base, MEM0_GOV_PHI_LABELS: 'phi, hipaa' }).policy).not.toHaveProperty('phiLabels');
  });

  it('the Redis timeout is read once and reaches both the connection and the gate', () => {
    const cfg = loadConfig({ MEM0_GOV_JWT_ISSUERS: 'https://i', MEM0_GOV_REDIS_TIMEOUT_MS: '75' });
    expect(cfg.redis.timeoutMs).toBe(75);
    expect(cfg.gate.timeoutMs).toBe(75);
  });

  it('keeps the start-up messages operators and tests rely on', () => {
    const base = { MEM0_GOV_JWT_ISSUERS: 'https://i' };
    expect(() => loadConfig({})).toThrow('MEM0_GOV_JWT_ISSUERS: required');
    expect(() => loadConfig({ ...base, MEM0_GOV_GRPC_PORT: 'ninety' })).toThrow('MEM0_GOV_GRPC_PORT: expected an integer');
    expect(() => loadConfig({ ...base, MEM0_GOV_JWT_ALGORITHMS: 'HS256' })).toThrow('MEM0_GOV_JWT_ALGORITHMS: HS256 is not allowed');
    expect(() => loadConfig({ ...base, MEM0_GOV_MEM0_API_KEY_FILE: '/nonexistent/key' })).toThrow('MEM0_GOV_MEM0_API_KEY_FILE: cannot read /nonexistent/key');
    expect(() => loadConfig({ ...base, MEM0_GOV_LOG_DESTINATION: 'syslog' })).toThrow('MEM0_GOV_LOG_DESTINATION: must be one of stdout, stderr');
  });

  it('CLI-only variables have a loader', () => {
    const c = loadCliConfig({ MEM0_GOV_ADMIN_ACTOR: 'ops', MEM0_GOV_AUDIT_ADMIN_CHAIN_ID: 'admin:x', MEM0_GOV_DEV_ISSUER: 'http://i' });
    expect(c).toMatchObject({ adminActor: 'ops', adminChainId: 'admin:x', devKeyDir: '.state/dev-issuer', devIssuer: 'http://i', log: { level: 'warn', destination: 'stderr' } });
    expect(loadCliConfig({}).adminChainId).toMatch(/^admin:/);
  });
});

describe('unknown MEM0_GOV_* variables', () => {
  const env = {
    MEM0_GOV_OWNER_TIMEOUT: '100', // typo of OWNER_TIMEOUT_MS
    MEM0_GOV_OWNER_TIMEOUT_MS: '300',
    MEM0_GOV_REDIS_PASSWORD_FILE: '/run/secrets/r',
    MEM0_GOV_JWKS_FILE: '/keys.json',
    MEM0_GOV_AUDIT_CHECKPOINT_KEY_FILE: '/k',
    MEM0_GOV_GRPC_PORT_FILE: '/p', // only secrets have a _FILE form
    MEM0_GOVERNOR: 'x',
    PATH: '/bin',
  };

  it("are listed; known names, secrets' _FILE forms and other prefixes are not", () => {
    expect(unknownVariables(env)).toEqual(['MEM0_GOV_GRPC_PORT_FILE', 'MEM0_GOV_OWNER_TIMEOUT']);
    expect(unknownVariables({ MEM0_GOV_OWNER_TIMEOUT_MS: '300' })).toEqual([]);
  });

  it('are one warning at start, not an error (service.ts and cli/bin.ts call warnUnknownVariables)', () => {
    const warnings: [object, string][] = [];
    const logger = { warn: (obj: object, msg: string) => void warnings.push([obj, msg]) };
    expect(warnUnknownVariables({ MEM0_GOV_OWNER_TIMEOUT_MS: '300' }, logger)).toEqual([]);
    expect(warnings).toEqual([]);
    warnUnknownVariables(env, logger);
    expect(warnings).toEqual([[{ variables: ['MEM0_GOV_GRPC_PORT_FILE', 'MEM0_GOV_OWNER_TIMEOUT'] }, expect.stringContaining('unknown MEM0_GOV_* variables')]]);
    expect(loadConfig({ MEM0_GOV_OWNER_TIMEOUT: '100', MEM0_GOV_GRPC_PORT_FILE: '/p', MEM0_GOV_JWT_ISSUERS: 'https://i' }).ownerTimeoutMs).toBe(200);
    for (const entry of ['service.ts', 'cli/bin.ts']) expect(code(readFileSync(join(SRC, entry), 'utf8')), entry).toMatch(/warnUnknownVariables\(env, /);
  });

  it('the CLI entry: log settings with the CLI defaults, or the bad variable (exit 78)', () => {
    expect(cliStart(env)).toEqual({ log: { level: 'warn', destination: 'stderr' } });
    expect(cliStart({ MEM0_GOV_LOG_DESTINATION: 'stdout' })).toEqual({ log: { level: 'warn', destination: 'stdout' } });
    expect(cliStart({ MEM0_GOV_LOG_LEVEL: 'loud' })).toEqual({ error: expect.stringMatching(/^MEM0_GOV_LOG_LEVEL: must be one of/) });
  });
});
