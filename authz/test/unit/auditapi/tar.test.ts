// The audit API's downloads are POSIX ustar archives any `tar` unpacks: header fields, checksum,
// 512-byte padding and the two zero blocks at the end.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tarHeader, tarStream } from '../../../src/auditapi/tar.js';

const dir = mkdtempSync(join(tmpdir(), 'tar-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const field = (h: Buffer, at: number, len: number): string => h.subarray(at, at + len).toString('ascii').replace(/\0.*$/s, '');

describe('ustar writer', () => {
  it('writes a header whose checksum is the sum of its bytes with the checksum field as spaces', () => {
    const h = tarHeader('audit-x.manifest.json', 1234, 1_700_000_000);
    expect(h.length).toBe(512);
    expect(field(h, 0, 100)).toBe('audit-x.manifest.json');
    expect(parseInt(field(h, 124, 12), 8)).toBe(1234);
    expect(parseInt(field(h, 136, 12), 8)).toBe(1_700_000_000);
    expect(field(h, 257, 6)).toBe('ustar');
    expect(field(h, 263, 2)).toBe('00');
    expect(String.fromCharCode(h[156]!)).toBe('0');
    const copy = Buffer.from(h);
    copy.fill(' ', 148, 156);
    let sum = 0;
    for (const b of copy) sum += b;
    expect(parseInt(field(h, 148, 8).trim(), 8)).toBe(sum);
    expect(() => tarHeader('a/'.repeat(60), 1, 0)).toThrow(/file name/);
    expect(() => tarHeader('bad\nname', 1, 0)).toThrow(/file name/);
  });

  it('streams each file after its header, padded to 512 bytes, and ends with two zero blocks', async () => {
    writeFileSync(join(dir, 'a.jsonl'), 'x'.repeat(700));
    writeFileSync(join(dir, 'b.json'), '{}');
    const chunks: Buffer[] = [];
    for await (const c of tarStream([join(dir, 'a.jsonl'), join(dir, 'b.json')])) chunks.push(c);
    const tar = Buffer.concat(chunks);
    expect(tar.length).toBe(512 + 1024 + 512 + 512 + 1024);
    expect(field(tar, 0, 100)).toBe('a.jsonl');
    expect(tar.subarray(512, 1212).toString()).toBe('x'.repeat(700));
    expect(tar.subarray(1212, 1536).every((b) => b === 0)).toBe(true);
    expect(field(tar, 1536, 100)).toBe('b.json');
    expect(tar.subarray(2048, 2050).toString()).toBe('{}');
    expect(tar.subarray(tar.length - 1024).every((b) => b === 0)).toBe(true);
  });
});
