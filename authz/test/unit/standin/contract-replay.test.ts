// Keeps the Mem0 stand-in honest: replays, in order, every request/response pair recorded from
// the real Mem0 REST server (testing/mem0-contract/) against a fresh stand-in with Mem0's auth
// on, and checks each status and response shape (JSON types, key sets and key order; the values
// too, except ids, timestamps, hashes, scores, memory texts and deployment facts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMem0Standin, type Mem0Standin } from '../../../../testing/mem0-standin.js';
import { ROOT } from '../../../../testing/tools.js';

interface Exchange {
  case: string;
  request: { method: string; path: string; body: unknown };
  /** `body` is a string when the recording cut a long answer at 600 characters. */
  response: { status: number; body: unknown };
}

const recording = JSON.parse(readFileSync(join(ROOT, 'testing/mem0-contract/exchanges.json'), 'utf8')) as { source: string; exchanges: Exchange[] };
const exchanges = recording.exchanges;
const RECORDED_COUNT = 32;
const ADMIN_KEY = 'contract-replay-admin-key';

/** Values that legitimately differ between runs and servers. */
const RUN_SPECIFIC = new Set(['id', 'memory_id', 'memory', 'old_memory', 'new_memory', 'hash', 'created_at', 'updated_at', 'score', 'text_lemmatized', 'request_id']);
/** GET /configure values that describe the recorded deployment (its database, paths, prompt). */
const DEPLOYMENT_SPECIFIC = new Set(['host', 'port', 'dbname', 'user', 'history_db_path', 'custom_instructions']);

/** The one exchange recorded without the admin key (the README: all others carried it). */
const isKeyless = (e: Exchange): boolean => /no API key/i.test(e.case);

/** `{id}` in a recorded path is the first memory added: the first successful POST /memories. */
const firstAdd = exchanges.findIndex((e) => e.request.method === 'POST' && e.request.path === '/memories' && e.response.status === 200);

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** Differences in shape (and in the values that are not run- or deployment-specific). */
function shapeDiff(want: unknown, got: unknown, at: string, key = ''): string[] {
  const wt = jsonType(want);
  const gt = jsonType(got);
  if (wt !== gt) return [`${at}: ${gt} instead of ${wt}`];
  if (wt === 'array') {
    const w = want as unknown[];
    const g = got as unknown[];
    if (w.length !== g.length) return [`${at}: ${g.length} items instead of ${w.length}`];
    return w.flatMap((x, i) => shapeDiff(x, g[i], `${at}[${i}]`, key));
  }
  if (wt === 'object') {
    const w = want as Record<string, unknown>;
    const g = got as Record<string, unknown>;
    const wk = Object.keys(w);
    const gk = Object.keys(g);
    const out = wk.join(',') === gk.join(',') ? [] : [`${at}: keys [${gk.join(', ')}] instead of [${wk.join(', ')}]`];
    return out.concat(wk.filter((k) => k in g).flatMap((k) => shapeDiff(w[k], g[k], `${at}.${k}`, k)));
  }
  if (RUN_SPECIFIC.has(key) || DEPLOYMENT_SPECIFIC.has(key)) return [];
  return want === got ? [] : [`${at}: ${JSON.stringify(got)} instead of ${JSON.stringify(want)}`];
}

/** The ordered `"key":` names in a (possibly cut) JSON text. */
function keySequence(text: string): string[] {
  return [...text.matchAll(/"((?:[^"\\]|\\.)*)"\s*:/g)].map((m) => m[1] ?? '');
}

let mem0: Mem0Standin;
let firstId: string | undefined;
let replayed = 0;

beforeAll(async () => {
  mem0 = await startMem0Standin({ requireApiKey: ADMIN_KEY });
});
afterAll(async () => {
  await mem0?.stop();
});

describe('the recording', () => {
  it(`holds ${RECORDED_COUNT} exchanges, one of them without the admin key`, () => {
    expect(exchanges).toHaveLength(RECORDED_COUNT);
    expect(exchanges.filter(isKeyless).map((e) => e.response.status)).toEqual([401]);
  });

  it('uses {id} only after the first add, and for the memory that add created', () => {
    const recordedFirst = (exchanges[firstAdd]!.response.body as { results: { id: string; memory: string }[] }).results[0]!;
    expect(recordedFirst.memory).toBe('I like tea');
    const uses = exchanges.map((e, i) => ({ e, i })).filter(({ e }) => e.request.path.includes('{id}'));
    expect(uses.length).toBeGreaterThan(0);
    expect(uses.every(({ i }) => i > firstAdd)).toBe(true);
    // Wherever the recorded answer names the memory, it is that first one.
    const named = uses.flatMap(({ e }) => {
      const b = e.response.body;
      if (Array.isArray(b)) return b.map((h) => (h as { memory_id: string }).memory_id);
      if (b !== null && typeof b === 'object' && 'id' in b) return [(b as { id: string }).id];
      return [];
    });
    expect(named.length).toBeGreaterThanOrEqual(2);
    expect(new Set(named)).toEqual(new Set([recordedFirst.id]));
  });
});

describe('replayed against the Mem0 stand-in', () => {
  for (const [i, ex] of exchanges.entries()) {
    it(`#${i} ${ex.case}: ${ex.request.method} ${ex.request.path} → ${ex.response.status}`, async () => {
      let path = ex.request.path;
      if (path.includes('{id}')) {
        expect(firstId, 'no memory id captured yet for {id}').toBeDefined();
        path = path.replaceAll('{id}', firstId!);
      }
      const headers: Record<string, string> = isKeyless(ex) ? {} : { 'x-api-key': ADMIN_KEY };
      const init: RequestInit = { method: ex.request.method, headers };
      if (ex.request.body !== null) {
        headers['content-type'] = 'application/json';
        init.body = JSON.stringify(ex.request.body);
      }
      const res = await fetch(mem0.url + path, init);
      const text = await res.text();
      replayed += 1;
      const got: unknown = JSON.parse(text);
      // Captured before any check, so one mismatch here does not cascade into every {id} exchange.
      if (i === firstAdd) firstId = (got as { results?: { id: string }[] }).results?.[0]?.id;

      expect(res.status, text).toBe(ex.response.status);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const want = ex.response.body;
      if (typeof want === 'string') {
        // Cut answer: its keys, in order, must open the stand-in's answer.
        const wantKeys = keySequence(want);
        expect(wantKeys.length).toBeGreaterThan(0);
        expect(want[0]).toBe(text[0]);
        expect(keySequence(text).slice(0, wantKeys.length)).toEqual(wantKeys);
      } else {
        expect(shapeDiff(want, got, '$')).toEqual([]);
      }
    });
  }

  it('replayed every recorded exchange, none skipped', () => {
    expect(replayed).toBe(exchanges.length);
    expect(replayed).toBe(RECORDED_COUNT);
  });
});
