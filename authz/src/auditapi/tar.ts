// Downloads of several files (an export: rows + manifest; the evidence pack) as one POSIX ustar
// archive, streamed from disk: `tar -xf` anywhere unpacks it, nothing to install.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';

const BLOCK = 512;

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

/** One ustar header: a regular file, mode 0644, owner 0, `name` (ASCII, < 100 bytes). */
export function tarHeader(name: string, size: number, mtimeSec: number): Buffer {
  if (!/^[\x20-\x7e]{1,99}$/.test(name)) throw new Error(`tar: unusable file name ${JSON.stringify(name)}`);
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 'ascii');
  h.write(octal(0o644, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(Math.floor(mtimeSec), 12), 136, 'ascii');
  h.fill(' ', 148, 156); // checksum field counts as spaces
  h.write('0', 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'ascii');
  return h;
}

/** The archive of `paths` (stored under their base names), chunk by chunk. */
export async function* tarStream(paths: readonly string[]): AsyncGenerator<Buffer> {
  for (const p of paths) {
    const s = await stat(p);
    yield tarHeader(basename(p), s.size, s.mtimeMs / 1000);
    for await (const chunk of createReadStream(p)) yield chunk as Buffer;
    const pad = (BLOCK - (s.size % BLOCK)) % BLOCK;
    if (pad > 0) yield Buffer.alloc(pad);
  }
  yield Buffer.alloc(BLOCK * 2);
}
