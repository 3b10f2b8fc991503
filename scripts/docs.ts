// Keeps README's generated tables in step with the code: the reason table (authz/src/reasons.ts).
// `npx tsx scripts/docs.ts` rewrites the marked sections; authz/test/unit/reasons.test.ts fails
// when README is stale. (Hand-written prose around the markers is left alone.)
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REASONS, type Stage } from '../authz/src/reasons.js';

export const README = join(fileURLToPath(new URL('..', import.meta.url)), 'README.md');

const STAGE_ORDER: Stage[] = ['parse', 'authenticate', 'gate', 'owner', 'policy', 'audit', 'response', 'service'];

export function reasonsTable(): string {
  const rows = Object.entries(REASONS)
    .sort(([, a], [, b]) => STAGE_ORDER.indexOf(a.stage) - STAGE_ORDER.indexOf(b.stage))
    .map(([reason, s]) => `| \`${reason}\` | ${s.stage} | ${'auditOnly' in s ? 'audit only' : `\`${s.decision}\``} | ${'auditOnly' in s ? '—' : s.status} |`);
  return ['| reason | stage | decision | status |', '|---|---|---|---|', ...rows].join('\n');
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
  return replaceSection(text, 'reasons', reasonsTable());
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(README, renderReadme(readFileSync(README, 'utf8')));
  console.log('README.md tables regenerated');
}
