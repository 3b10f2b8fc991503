import { describe, expect, it } from 'vitest';
import {
  applyContentRules,
  compileRules,
  ContentTooLargeError,
  MAX_SCAN_CHARS,
  type ContentMode,
  type ContentResult,
} from '../../../src/content/rules.js';

const SECRET_TEXT = 'Reach Ana at ana.lopez@example.org or 415-555-0132; SSN 536-22-1789; MRN-0012345.';
const rules = (mode: ContentMode) =>
  compileRules({ mode, detectors: ['email', 'phone', 'ssn', 'card', 'iban', 'ip'], custom: [{ name: 'mrn', pattern: 'MRN-\\d{7}' }] });

const createBody = () => ({
  messages: [
    { role: 'user', content: SECRET_TEXT },
    { role: 'assistant', content: 'Noted, nothing else to store.' },
  ],
  user_id: 'acme:ana@example.org',
  agent_id: 'acme:scheduler',
  metadata: { source: 'chat', tags: ['a'] },
  infer: true,
});

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object') {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

describe('applyContentRules modes', () => {
  it('off: no scan, action none, no body', () => {
    expect(applyContentRules(createBody(), rules('off'))).toEqual({ findings: [], action: 'none' });
  });

  it('no finding in any mode: action none, no body', () => {
    for (const mode of ['flag', 'mask', 'block'] as const) {
      const r = applyContentRules({ messages: [{ role: 'user', content: 'I like green tea in the morning.' }] }, rules(mode));
      expect(r).toEqual({ findings: [], action: 'none' });
    }
  });

  it('block: action blocked with findings sorted by type, no body', () => {
    const r = applyContentRules(createBody(), rules('block'));
    expect(r).toEqual({
      findings: [
        { type: 'custom:mrn', count: 1 },
        { type: 'email', count: 1 },
        { type: 'phone', count: 1 },
        { type: 'ssn', count: 1 },
      ],
      action: 'blocked',
    });
  });

  it('flag: metadata gets phi and content_flags, text and other fields untouched', () => {
    const input = createBody();
    const r = applyContentRules(input, rules('flag'));
    expect(r.action).toBe('flagged');
    expect(r.body).toEqual({
      ...createBody(),
      metadata: { source: 'chat', tags: ['a'], phi: true, content_flags: ['custom:mrn', 'email', 'phone', 'ssn'] },
    });
  });

  it('flag: metadata created when absent or null', () => {
    for (const metadata of [undefined, null]) {
      const body: Record<string, unknown> = { messages: [{ role: 'user', content: 'mail me: a.b@example.com' }] };
      if (metadata === null) body.metadata = null;
      const r = applyContentRules(body, rules('flag'));
      expect(r.body?.metadata).toEqual({ phi: true, content_flags: ['email'] });
    }
  });

  it('flag: metadata that is not an object leaves the body alone but reports findings', () => {
    for (const metadata of ['chat', ['x'], 7]) {
      const r = applyContentRules({ messages: [{ role: 'user', content: 'mail me: a.b@example.com' }], metadata }, rules('flag'));
      expect(r).toEqual({ findings: [{ type: 'email', count: 1 }], action: 'flagged' });
    }
  });

  it('flag: content_flags replaces a caller-supplied value', () => {
    const r = applyContentRules({ text: 'call 415-555-0132', metadata: { content_flags: ['none'], phi: false } }, rules('flag'));
    expect(r.body?.metadata).toEqual({ content_flags: ['phone'], phi: true });
  });

  it('mask: every match replaced by its typed placeholder, in every message', () => {
    const r = applyContentRules(createBody(), rules('mask'));
    expect(r.action).toBe('masked');
    expect(r.body).toEqual({
      ...createBody(),
      messages: [
        { role: 'user', content: 'Reach Ana at [EMAIL] or [PHONE]; SSN [SSN]; [CUSTOM:mrn].' },
        { role: 'assistant', content: 'Noted, nothing else to store.' },
      ],
    });
  });

  it('mask: placeholders for all built-in types', () => {
    const text = 'e a@example.com p +44 20 7946 0958 s 536-22-1789 c 4111 1111 1111 1111 i GB29NWBK60161331926819 ip 10.1.2.3';
    const r = applyContentRules({ text }, rules('mask'));
    expect(r.body?.text).toBe('e [EMAIL] p [PHONE] s [SSN] c [CARD] i [IBAN] ip [IP]');
    expect(r.findings.map((f) => f.type)).toEqual(['card', 'email', 'iban', 'ip', 'phone', 'ssn']);
  });

  it('PUT body: text is scanned; metadata-only update is left alone', () => {
    const r = applyContentRules({ text: 'New card 5555555555554444', expiration_date: '2030-01-01' }, rules('mask'));
    expect(r).toEqual({ findings: [{ type: 'card', count: 1 }], action: 'masked', body: { text: 'New card [CARD]', expiration_date: '2030-01-01' } });
    expect(applyContentRules({ metadata: { note: 'a@example.com' } }, rules('block'))).toEqual({ findings: [], action: 'none' });
  });

  it('only messages[].content and text are scanned', () => {
    const body = {
      messages: [{ role: 'a@example.com', content: 'nothing here', name: '415-555-0132' }],
      user_id: 'acme:a@example.com',
      metadata: { phone: '415-555-0132' },
      prompt: 'SSN 536-22-1789',
      filters: { email: 'b@example.com' },
    };
    expect(applyContentRules(body, rules('block'))).toEqual({ findings: [], action: 'none' });
  });

  it('never mutates the input, in any mode', () => {
    for (const mode of ['off', 'flag', 'mask', 'block'] as const) {
      const input = deepFreeze(createBody());
      const r = applyContentRules(input, rules(mode));
      expect(input).toEqual(createBody());
      if (r.body) {
        // The returned body shares nothing mutable with the input.
        (r.body.metadata as Record<string, unknown>).x = 1;
        ((r.body.messages as Array<Record<string, unknown>>)[1] as Record<string, unknown>).content = 'changed';
        expect(input).toEqual(createBody());
      }
    }
  });

  it('findings never contain the matched text', () => {
    const secrets = ['ana.lopez@example.org', '415-555-0132', '536-22-1789', 'MRN-0012345', '0132', '1789'];
    for (const mode of ['flag', 'mask', 'block'] as const) {
      const r: ContentResult = applyContentRules(createBody(), rules(mode));
      expect(r.findings.length).toBe(4);
      for (const f of r.findings) expect(Object.keys(f).sort()).toEqual(['count', 'type']);
      const shown = JSON.stringify(r.findings);
      for (const s of secrets) expect(shown).not.toContain(s);
      if (mode === 'mask') for (const s of secrets) expect(JSON.stringify(r.body)).not.toContain(s);
    }
  });

  it('is deterministic: the same input and rules give the same output', () => {
    for (const mode of ['flag', 'mask', 'block'] as const) {
      const a = applyContentRules(createBody(), rules(mode));
      const b = applyContentRules(createBody(), rules(mode));
      expect(b).toEqual(a);
      expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    }
  });

  it('masking is idempotent: a masked body has no findings left', () => {
    const r = applyContentRules(createBody(), rules('mask'));
    expect(applyContentRules(r.body as Record<string, unknown>, rules('mask'))).toEqual({ findings: [], action: 'none' });
  });

  it('refuses to scan more than MAX_SCAN_CHARS', () => {
    const half = 'x'.repeat(MAX_SCAN_CHARS / 2);
    const body = { messages: [{ role: 'user', content: half }, { role: 'user', content: `${half}!` }] };
    expect(() => applyContentRules(body, rules('mask'))).toThrow(ContentTooLargeError);
    expect(() => applyContentRules(body, rules('block'))).toThrow(expect.objectContaining({ reason: 'content_too_large' }));
    // off never scans, so never refuses; exactly the limit is scanned
    expect(applyContentRules(body, rules('off')).action).toBe('none');
    expect(applyContentRules({ text: 'x'.repeat(MAX_SCAN_CHARS) }, rules('mask')).action).toBe('none');
  });
});
