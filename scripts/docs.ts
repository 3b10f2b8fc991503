// Keeps generated documentation in step with the code: README's reason table (authz/src/reasons.ts)
// and the configuration tables (authz/src/config/spec.ts) in README, audit/README.md and
// authz/src/gate/README.md. `npx tsx scripts/docs.ts` rewrites the marked sections;
// authz/test/unit/reasons.test.ts and authz/test/unit/config/spec.test.ts fail when a file is
// stale. (Hand-written prose around the markers is left alone.)
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REASONS, type Stage } from '../authz/src/reasons.js';
import { NAMES, PREFIX, SPEC, isSecret, type Group, type VarSpec } from '../authz/src/config/spec.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const README = join(ROOT, 'README.md');

const STAGE_ORDER: Stage[] = ['parse', 'authenticate', 'gate', 'owner', 'policy', 'audit', 'response', 'service', 'envoy'];

export function reasonsTable(): string {
  const rows = Object.entries(REASONS)
    .sort(([, a], [, b]) => STAGE_ORDER.indexOf(a.stage) - STAGE_ORDER.indexOf(b.stage))
    .map(([reason, s]) => `| \`${reason}\` | ${s.stage} | ${'auditOnly' in s ? 'audit only' : `\`${s.decision}\``} | ${'auditOnly' in s ? '—' : s.status} |`);
  return ['| reason | stage | decision | status |', '|---|---|---|---|', ...rows].join('\n');
}

const code = (v: string | number | boolean): string => `\`${v}\``;

/** What a variable accepts, from its type and bounds. */
export function accepts(s: VarSpec): string {
  switch (s.type) {
    case 'string':
      return s.pattern ? code(s.pattern.source.replace(/^\^/, '').replace(/\$$/, '')) : 'text';
    case 'path':
      return 'path';
    case 'int':
      return s.max === undefined ? `integer ≥ ${s.min}` : `integer ${s.min}–${s.max}`;
    case 'bool':
      return `${code(true)} / ${code(false)}`;
    case 'url':
      return 'URL';
    case 'list':
      if (s.values) return `comma-separated, each one of ${s.values.map(code).join(', ')}`;
      return s.items === 'url' ? 'comma-separated URLs' : 'comma-separated';
    case 'enum':
      return s.values.map(code).join(' / ');
    case 'duration':
      return `duration: ${['90s', '30m', '4h', '30d'].map(code).join(', ')}`;
    case 'rate':
      return `rate: ${['600/m', '10/s', '100/10s', '600/m,burst=50'].map(code).join(', ')}`;
    case 'roleSeconds':
      return code('role=seconds,…');
    case 'hostPorts':
      return code('host:port,…');
    case 'json':
      return 'JSON';
    case 'secret':
      return `secret, or ${code('_FILE')}: a file holding it`;
    case 'secretFile':
      return 'path of a file holding a secret';
  }
}

/** The default as the docs show it. */
export function defaultText(name: string, s: VarSpec): string {
  let text: string;
  if (s.required === true) text = '**required**';
  else if (typeof s.required === 'string') text = `**required** ${s.required}`;
  else if (s.defaultDoc !== undefined) text = s.defaultDoc;
  else if (!('default' in s) || s.default === undefined) text = '—';
  else if (typeof s.default === 'function') throw new Error(`${name}: a computed default needs defaultDoc`);
  else if (Array.isArray(s.default)) text = code(s.default.join(','));
  else text = code(s.default as string | number | boolean);
  if ('cliDefault' in s && s.cliDefault !== undefined) text += ` (CLI: ${code(s.cliDefault)})`;
  return text;
}

const READ_BY = { service: 'service', cli: 'CLI', both: 'service, CLI' } as const;

/** The configuration table (all groups, or some), generated from the spec. */
export function configTable(opts: { groups?: readonly Group[]; prefix?: boolean } = {}): string {
  const rows = NAMES.filter((n) => !opts.groups || opts.groups.includes(SPEC[n].group)).map((n) => {
    const s: VarSpec = SPEC[n];
    const cells = [
      `${code((opts.prefix ? PREFIX : '') + n)}${s.type === 'secret' ? ` (${code('_FILE')})` : ''}`,
      defaultText(n, s),
      accepts(s),
      READ_BY[s.readBy],
      s.description,
    ];
    for (const c of cells) if (/(^|[^\\])\|/.test(c)) throw new Error(`${n}: "|" in a table cell: ${c}`);
    return `| ${cells.join(' | ')} |`;
  });
  return ['| variable | default | accepts | read by | what |', '|---|---|---|---|---|', ...rows].join('\n');
}

export function replaceSection(text: string, name: string, body: string): string {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a === -1 || b === -1 || b < a) throw new Error(`README has no ${name} section markers`);
  return `${text.slice(0, a + start.length)}\n${body}\n${text.slice(b)}`;
}

export function renderReadme(text: string): string {
  return replaceSection(replaceSection(text, 'reasons', reasonsTable()), 'config', configTable());
}

/** Every file with generated sections, and how to render it. */
export const DOCS: readonly { path: string; render: (text: string) => string }[] = [
  { path: README, render: renderReadme },
  { path: join(ROOT, 'audit', 'README.md'), render: (t) => replaceSection(t, 'config', configTable({ groups: ['audit'], prefix: true })) },
  { path: join(ROOT, 'authz', 'src', 'gate', 'README.md'), render: (t) => replaceSection(t, 'config', configTable({ groups: ['redis', 'gate'], prefix: true })) },
];

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const d of DOCS) writeFileSync(d.path, d.render(readFileSync(d.path, 'utf8')));
  console.log(`regenerated: ${DOCS.map((d) => d.path.slice(ROOT.length)).join(', ')}`);
}
