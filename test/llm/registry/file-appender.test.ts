import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createFileDigest, FileAppender, WRITE_BATCH_BYTES } from '../../../src/llm/registry/file-appender.js';

const dir = mkdtempSync(join(tmpdir(), 'bkg-appender-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('FileAppender', () => {
  it('appends views of a reused buffer in order, waiting when asked, and hashes every byte', async () => {
    const file = join(dir, 'a.bin');
    writeFileSync(file, 'head:');
    const data = randomBytes(5 * WRITE_BATCH_BYTES + 12345);
    const digest = createFileDigest();
    const out = await FileAppender.open(file, digest);
    const scratch = Buffer.alloc(3 * WRITE_BATCH_BYTES); // views larger than both buffers together, and small ones
    let waits = 0;
    for (let at = 0, i = 0; at < data.length; i++) {
      const n = Math.min(data.length - at, [1, 65536, 3 * WRITE_BATCH_BYTES, 777][i % 4] as number);
      data.copy(scratch, 0, at, at + n);
      const w = out.push(scratch.subarray(0, n));
      if (w) {
        waits++;
        await w;
      }
      scratch.fill(0xee, 0, n); // the view is not used after the push (or its wait) settles
      at += n;
    }
    await out.finish();
    await out.close();
    expect(waits).toBeGreaterThan(0);
    expect(readFileSync(file).equals(Buffer.concat([Buffer.from('head:'), data]))).toBe(true);
    expect(digest.bytes).toBe(data.length);
    expect(digest.hex()).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('refuses a push while the one before it still waits (it would overwrite a buffer being written)', async () => {
    const file = join(dir, 'd.bin');
    const out = await FileAppender.open(file);
    const parts = [randomBytes(WRITE_BATCH_BYTES), randomBytes(WRITE_BATCH_BYTES - 10), randomBytes(20), randomBytes(20)];
    expect(out.push(parts[0] as Buffer)).toBeNull(); // the first buffer fills and goes to the disk
    expect(out.push(parts[1] as Buffer)).toBeNull(); // the second buffer, 10 bytes short of full
    const wait = out.push(parts[2] as Buffer); // fills it while the first is still being written: the rest waits
    expect(wait).not.toBeNull();
    expect(() => out.push(parts[3] as Buffer)).toThrow(/still waits/);
    await wait;
    await out.push(parts[3] as Buffer);
    await out.finish();
    await out.close();
    expect(readFileSync(file).equals(Buffer.concat(parts))).toBe(true);
  });

  it('close() writes what it took before closing (a resumed download continues after it)', async () => {
    const file = join(dir, 'b.bin');
    const out = await FileAppender.open(file);
    const w = out.push(Buffer.from('partial data'));
    expect(w).toBeNull();
    await out.close();
    await out.close();
    expect(readFileSync(file, 'utf8')).toBe('partial data');
  });

  it('rehash() recomputes the digest from the file and refuses a file that is shorter than said', async () => {
    const file = join(dir, 'c.bin');
    writeFileSync(file, 'abcdef');
    const d = createFileDigest();
    await d.rehash(file, 4);
    expect(d.hex()).toBe(createHash('sha256').update('abcd').digest('hex'));
    await expect(d.rehash(file, 10)).rejects.toMatchObject({ code: 'DOWNLOAD_FAILED' });
  });
});
