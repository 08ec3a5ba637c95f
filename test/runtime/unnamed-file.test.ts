/** Unnamed files (what a blocking run of the helper gets instead of pipes): read from their start, gone from the directory, null where none can be made. */
import { closeSync, mkdtempSync, readdirSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tmpfileIn, unlinkedFileIn, unnamedFile } from '../../src/runtime/unnamed-file.js';

const dir = mkdtempSync(join(tmpdir(), 'bkg-unnamed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What a reader of the descriptor gets from where its offset stands (as the helper reads it). */
function readAll(fd: number): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(4096);
  for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) chunks.push(Buffer.from(buf.subarray(0, n)));
  return Buffer.concat(chunks).toString();
}

describe('unnamed files', () => {
  it('hold their data from the start, with no name in the directory: O_TMPFILE, and a file unlinked at once', () => {
    for (const make of [tmpfileIn, unlinkedFileIn]) {
      const fd = make(dir, Buffer.from('spec\0tokens\0'));
      try {
        expect(readAll(fd), make.name).toBe('spec\0tokens\0');
        expect(readdirSync(dir), make.name).toEqual([]);
      } finally {
        closeSync(fd);
      }
    }
  });

  it('take the first directory that can have one, and are null when none can', () => {
    const fd = unnamedFile(['/nonexistent-bkg-dir', dir], Buffer.from('x'));
    expect(fd).not.toBeNull();
    closeSync(fd as number);
    expect(unnamedFile(['/nonexistent-bkg-dir', '/proc'])).toBeNull();
  });
});
