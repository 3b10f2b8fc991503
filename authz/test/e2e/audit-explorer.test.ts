// The audit explorer page in a real browser (Debian's chromium, headless, playwright-core) through
// the real Envoy: an auditor pastes a JWT, searches the trail, opens a memory's trail (who, when,
// allowed or not, what Mem0 did), sees a verified badge per chain — broken with the first bad row
// after a tamper — and downloads an export that verifies offline. Nothing but the auditor's tenant.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrowser, type TestBrowser } from '../../../testing/browser.js';
import { call } from '../../../testing/https.js';
import { startStack, type Stack } from '../../../testing/stack.js';
import { untar } from '../../../testing/tar.js';
import { loadVerifier } from '../../src/audit/checkpoint.js';
import { selectRows } from '../../src/audit/pg.js';
import { verifyExport } from '../../src/audit/verify-file.js';

let stack: Stack;
let browser: TestBrowser;
let page: Page;
let memoryId: string;

beforeAll(async () => {
  stack = await startStack({ env: { MEM0_GOV_AUDIT_VERIFY_INTERVAL_SECONDS: '1', MEM0_GOV_AUDIT_CHECKPOINT_SECONDS: '3600' } });
  const r = (o: Parameters<typeof call>[2]) => call(stack.envoy.baseUrl, stack.envoy.caFile, o);
  const created = await r({ method: 'POST', path: '/memories', token: await stack.token({ tenant: 'acme', roles: ['agent-writer'], sub: 'wendy' }), body: { user_id: 'acme:alice', messages: [{ role: 'user', content: 'I like sencha' }] } });
  memoryId = created.json<{ results: { id: string }[] }>().results[0]!.id;
  expect((await r({ path: `/memories/${memoryId}`, token: await stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'rita' }) })).status).toBe(200);
  expect((await r({ path: `/memories/${memoryId}`, token: await stack.token({ tenant: 'globex', roles: ['agent-reader'], sub: 'gina' }) })).status).toBe(404);
  browser = await startBrowser();
  page = await browser.context.newPage();
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

async function signIn(roles: string[], tenant: string): Promise<void> {
  await page.goto(`${stack.envoy.baseUrl}/audit/ui/`);
  await page.getByLabel(/Bearer token/).fill(await stack.token({ tenant, roles, sub: 'audrey' }));
  await page.getByRole('button', { name: 'Use token' }).click();
}

async function rowsOf(table: string): Promise<string[][]> {
  return page.locator(`${table} tbody tr`).evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
}

describe('audit explorer (chromium, headless)', () => {
  it('is plain and accessible: every control labelled, tables captioned, status announced; it asks for nothing outside /audit/', async () => {
    const asked: string[] = [];
    page.on('request', (req) => asked.push(new URL(req.url()).pathname));
    await page.goto(`${stack.envoy.baseUrl}/audit/ui/`);
    await page.waitForLoadState('networkidle');
    expect(asked.length).toBeGreaterThanOrEqual(3);
    expect(asked.filter((p) => !p.startsWith('/audit/'))).toEqual([]);
    expect(await page.title()).toBe('mem0-gov audit explorer');
    const unlabelled = await page.locator('input, select, textarea').evaluateAll((els) => els.filter((e) => (e as HTMLInputElement).labels?.length === 0).map((e) => e.outerHTML));
    expect(unlabelled).toEqual([]);
    const unnamed = await page.locator('button').evaluateAll((els) => els.filter((e) => (e.textContent ?? '').trim() === '' && !e.getAttribute('aria-label')).length);
    expect(unnamed).toBe(0);
    expect(await page.locator('table caption').count()).toBe(2);
    expect(await page.locator('[role=status][aria-live=polite]').count()).toBe(1);
    // Keyboard: the token field is reachable with Tab and the form submits with the keyboard.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('token');
  });

  it('an auditor searches the trail of its own tenant and opens a memory\'s trail: who, when, allowed or not, what Mem0 did', async () => {
    await signIn(['auditor'], 'acme');
    await expect.poll(() => page.locator('#whoami').textContent()).toContain('tenant acme');
    await expect.poll(async () => (await rowsOf('#events')).length, { timeout: 20_000 }).toBeGreaterThan(2);
    const rows = await rowsOf('#events');
    expect(rows.every((cells) => cells[3] === 'acme')).toBe(true);
    expect(JSON.stringify(rows)).not.toContain('sencha');
    // Filter by the memory id, then open its trail from the table.
    await page.getByLabel('Memory id', { exact: true }).fill(memoryId);
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(async () => (await rowsOf('#events')).every((c) => c[7] === memoryId)).toBe(true);
    await page.getByRole('button', { name: `Show the trail of memory ${memoryId}` }).first().click();
    await expect.poll(() => page.locator('#trail-section').isVisible()).toBe(true);
    const trail = await rowsOf('#trail');
    const text = trail.map((c) => c.join(' | '));
    expect(text.some((t) => /outcome \| allow \| wendy .*POST \/memories/.test(t))).toBe(true);
    expect(text.some((t) => /decision \| allow \| rita .*GET \/memories\//.test(t))).toBe(true);
    expect(text.some((t) => /outcome \| allow \| rita .*Mem0 answered 200; returned 1/.test(t))).toBe(true);
    expect(text.some((t) => t.includes('gina'))).toBe(false);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('trail-h');
  });

  it('a platform auditor sees another tenant\'s denied attempt with its reason', async () => {
    await signIn(['platform-auditor'], 'platform');
    await page.getByLabel('Tenant', { exact: true }).fill('globex');
    await page.getByLabel('Decision', { exact: true }).selectOption('deny');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(async () => (await rowsOf('#events')).some((c) => c[4] === 'gina' && (c[9] ?? '').includes('memory_not_found'))).toBe(true);
  });

  it('downloads an export that verifies offline', async () => {
    await signIn(['auditor'], 'acme');
    await page.getByLabel('From', { exact: true }).fill('2000-01-01T00:00:00');
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download export (JSONL + manifest)' }).click()]);
    const path = await dl.path();
    const files = untar(readFileSync(path));
    const dir = mkdtempSync(join(tmpdir(), 'explorer-export-'));
    for (const [n, b] of files) writeFileSync(join(dir, n), b);
    const rows = [...files.keys()].find((n) => n.endsWith('.jsonl'))!;
    const manifest = [...files.keys()].find((n) => n.endsWith('.manifest.json'))!;
    const key = loadVerifier(readFileSync(stack.env.MEM0_GOV_AUDIT_CHECKPOINT_PUBLIC_KEY_FILE!, 'utf8'));
    const v = verifyExport(join(dir, rows), join(dir, manifest), [key]);
    expect(v.manifestProblems).toEqual([]);
    expect(v.reports.every((x) => x.problem === null)).toBe(true);
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/Downloaded audit-.*\.tar \(sha256 [0-9a-f]{64}\)/);
  });

  it('shows a verified badge per chain, and after a tamper the broken chain with its first bad row', async () => {
    await signIn(['auditor'], 'acme');
    const chain = stack.env.MEM0_GOV_AUDIT_CHAIN_ID!;
    const item = page.locator(`#chains li[data-chain="${chain}"]`);
    await expect.poll(async () => {
      await page.getByRole('button', { name: 'Refresh' }).click();
      return item.locator('.badge').textContent();
    }, { timeout: 30_000 }).toBe('verified');
    const db = new pg.Client(stack.pgOwnerUrl);
    await db.connect();
    try {
      const [row] = await selectRows(db, "WHERE chain_id = $1 AND route = 'memories.get' AND decision = 'deny'", [chain]);
      await db.query('SET session_replication_role = replica');
      await db.query("UPDATE audit.events SET decision = 'allow' WHERE chain_id = $1 AND seq = $2", [chain, row!.seq]);
      await db.query('SET session_replication_role = DEFAULT');
      await expect.poll(async () => {
        await page.getByRole('button', { name: 'Refresh' }).click();
        return item.textContent();
      }, { timeout: 30_000 }).toMatch(new RegExp(`^broken.*First bad row: seq ${row!.seq} \\(event ${row!.event_id}\\): hash_mismatch`));
    } finally {
      await db.end();
    }
  });
});
