/** Files stay small (README, "Architecture"): a file in src/ over 400 lines says why at its top, in a line with "over 400 lines:". */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const LIMIT = 400;
const REASON = /over 400 lines:/i;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return /\.(ts|tsx|mts|cts|js|mjs)$/.test(e.name) ? [path] : [];
  });
}

/** The files of `dir` over the limit that do not say why in their first 10 lines. */
function oversized(files: { path: string; text: string }[]): string[] {
  return files
    .filter(({ text }) => {
      const lines = text.split('\n');
      if (text.endsWith('\n')) lines.pop();
      return lines.length > LIMIT && !lines.slice(0, 10).some((l) => REASON.test(l));
    })
    .map(({ path, text }) => `${path} (${text.split('\n').length - (text.endsWith('\n') ? 1 : 0)} lines)`);
}

describe('file sizes', () => {
  it(`no file in src/ is over ${LIMIT} lines without a reason at its top`, () => {
    const files = sources(join(ROOT, 'src')).map((p) => ({ path: relative(ROOT, p), text: readFileSync(p, 'utf8') }));
    expect(files.length).toBeGreaterThan(100);
    expect(oversized(files)).toEqual([]);
  });

  it('the rule fires: a long file without a reason fails, one with a reason passes', () => {
    const body = Array.from({ length: LIMIT }, (_, i) => `export const x${i} = ${i};`).join('\n');
    expect(oversized([{ path: 'src/short.ts', text: `${body}\n` }])).toEqual([]); // exactly 400: fine
    expect(oversized([{ path: 'src/long.ts', text: `/** A module. */\n${body}\n` }])).toEqual(['src/long.ts (401 lines)']);
    expect(oversized([{ path: 'src/long.ts', text: `/**\n * A table. Over 400 lines: one entry per syscall, split it and nothing reads better.\n */\n${body}\n` }])).toEqual([]);
    // a reason below the first 10 lines does not count
    expect(oversized([{ path: 'src/late.ts', text: `${'//\n'.repeat(10)}// over 400 lines: too late\n${body}\n` }])).toHaveLength(1);
  });
});
