// The response stage's filter over Mem0 answers (pure): tenant and PHI on the way out.
import { describe, expect, it } from 'vitest';
import { filterAnswer, ownsId } from '../../../src/response/answer.js';

const acme = { tenant_prefixes: ['acme:'], phi_allowed: false };
const acmePhi = { tenant_prefixes: ['acme:'], phi_allowed: true };
const platform = { tenant_prefixes: null, phi_allowed: false };
const labels = ['phi'];

const mem = (id: string, user: string, metadata: Record<string, unknown> | null = null, extra: Record<string, unknown> = {}) =>
  ({ id, memory: `text of ${id}`, user_id: user, metadata, ...extra });

describe('memories answers (list, search)', () => {
  const body = { results: [mem('m1', 'acme:alice'), mem('m2', 'acme:alice', { phi: true }), mem('m3', 'globex:bob'), mem('m4', 'acme:alice', { classification: 'PHI' })] };

  it('withholds PHI from callers without phi and memories of other tenants, keeping Mem0\'s shape', () => {
    const r = filterAnswer({ kind: 'memories', body, rules: acme, phiLabels: labels });
    expect(r.body).toEqual({ results: [mem('m1', 'acme:alice')] });
    expect(r).toMatchObject({ changed: true, returned: 1, returnedIds: ['m1'], withheldPhi: ['m2', 'm4'], withheldCrossTenant: ['m3'], phiReleased: false });
    expect(JSON.stringify(r.body)).not.toContain('text of m2');
  });

  it('releases PHI to callers with phi, and says so', () => {
    const r = filterAnswer({ kind: 'memories', body, rules: acmePhi, phiLabels: labels });
    expect((r.body as { results: unknown[] }).results.map((m) => (m as { id: string }).id)).toEqual(['m1', 'm2', 'm4']);
    expect(r.phiReleased).toBe(true);
    expect(r.withheldCrossTenant).toEqual(['m3']);
  });

  it('a platform admin\'s global listing keeps every tenant but still no PHI without phi', () => {
    const flat = { results: [mem('m1', 'acme:a', null, { agent_id: null, run_id: null }), mem('m3', 'globex:b', { phi: true }, { agent_id: null })] };
    const r = filterAnswer({ kind: 'memories', body: flat, rules: platform, phiLabels: labels });
    expect(r.returnedIds).toEqual(['m1']);
    expect(r.withheldPhi).toEqual(['m3']);
    expect(r.withheldCrossTenant).toEqual([]);
  });

  it('a memory with ids of two tenants, or none, is not the caller\'s', () => {
    const r = filterAnswer({ kind: 'memories', body: { results: [{ id: 'x', user_id: 'acme:a', agent_id: 'globex:b' }, { id: 'y' }, 'junk'] }, rules: acme, phiLabels: labels });
    expect(r.returned).toBe(0);
    expect(r.withheldCrossTenant).toEqual(['x', 'y', '?']);
  });

  it('nothing withheld: the body is released unchanged (same object)', () => {
    const clean = { results: [mem('m1', 'acme:a')] };
    const r = filterAnswer({ kind: 'memories', body: clean, rules: acme, phiLabels: labels });
    expect(r.changed).toBe(false);
    expect(r.body).toBe(clean);
  });
});

describe('one memory, history, entities, writes', () => {
  it('GET by id: a PHI or foreign memory becomes Mem0\'s own "no such memory" (null)', () => {
    expect(filterAnswer({ kind: 'memory', body: mem('m2', 'acme:a', { phi: true }), rules: acme, phiLabels: labels }).body).toBeNull();
    expect(filterAnswer({ kind: 'memory', body: mem('m3', 'globex:b'), rules: acme, phiLabels: labels }).body).toBeNull();
    expect(filterAnswer({ kind: 'memory', body: mem('m1', 'acme:a'), rules: acme, phiLabels: labels }).changed).toBe(false);
    expect(filterAnswer({ kind: 'memory', body: null, rules: acme, phiLabels: labels }).body).toBeNull();
  });

  it('history: entries of another memory are dropped; a PHI owner needs phi', () => {
    const h = [{ id: 'h1', memory_id: 'm1', new_memory: 'a' }, { id: 'h2', memory_id: 'other', new_memory: 'b' }];
    const r = filterAnswer({ kind: 'history', body: h, rules: acme, phiLabels: labels, memoryId: 'm1', owner: { exists: true, user_id: 'acme:a', phi: false } });
    expect(r.body).toEqual([h[0]]);
    const phi = filterAnswer({ kind: 'history', body: h.slice(0, 1), rules: acme, phiLabels: labels, memoryId: 'm1', owner: { exists: false, deleted: true, user_id: 'acme:a', phi: true } });
    expect(phi.body).toEqual([]);
    expect(phi.withheldPhi).toEqual(['h1']);
  });

  it('GET /entities: only the caller\'s tenant (prefix rule: acmex:1 is not acme\'s, nor is acme:)', () => {
    const ents = [{ id: 'acme:alice', type: 'user' }, { id: 'globex:bob', type: 'user' }, { id: 'acmex:1', type: 'agent' }, { id: 'acme:', type: 'run' }];
    const r = filterAnswer({ kind: 'entities', body: ents, rules: acmePhi, phiLabels: labels });
    expect(r.body).toEqual([ents[0]]);
    expect(r.withheldCrossTenant).toEqual(['globex:bob', 'acmex:1', 'acme:']);
    expect(filterAnswer({ kind: 'entities', body: ents, rules: { tenant_prefixes: ['acme:', 'acmex:'], phi_allowed: false }, phiLabels: labels }).returned).toBe(2);
  });

  it('GET /entities: counts and dates only for callers who may see every memory they count (phi)', () => {
    const ents = [{ id: 'acme:alice', type: 'user', total_memories: 4, created_at: 'c', updated_at: 'u' }];
    expect(filterAnswer({ kind: 'entities', body: ents, rules: acme, phiLabels: labels }).body)
      .toEqual([{ id: 'acme:alice', type: 'user', total_memories: null, created_at: null, updated_at: null }]);
    expect(filterAnswer({ kind: 'entities', body: ents, rules: acmePhi, phiLabels: labels }).body).toEqual(ents);
  });

  it('a PHI write echoed back counts as PHI released', () => {
    const body = { results: [{ id: 'a', memory: 'diagnosis', event: 'ADD' }] };
    expect(filterAnswer({ kind: 'created', body, rules: acme, phiLabels: labels, writePhi: true }).phiReleased).toBe(true);
    expect(filterAnswer({ kind: 'created', body, rules: acme, phiLabels: labels }).phiReleased).toBe(false);
  });

  it('writes: counts what Mem0 reports it added', () => {
    const r = filterAnswer({ kind: 'created', body: { results: [{ id: 'a', memory: 'x', event: 'ADD' }, { id: 'b', memory: 'y', event: 'ADD' }] }, rules: acme, phiLabels: labels });
    expect(r).toMatchObject({ affected: 2, returnedIds: ['a', 'b'], changed: false });
  });

  it('ownsId needs a non-empty local part', () => {
    expect(ownsId(['acme:'], 'acme:x')).toBe(true);
    expect(ownsId(['acme:'], 'acme:')).toBe(false);
    expect(ownsId(['acme:'], 'acmex:y')).toBe(false);
  });
});
