/** Pure helpers of the daemon commands: cp's SRC/DST planning, table and time rendering. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BkgError } from '../../src/api/errors.js';
import { planCopy } from '../../src/cli/copy-plan.js';
import { ago, earliest, renderChanges, renderTable, until } from '../../src/cli/format.js';

const dir = mkdtempSync(join(tmpdir(), 'bkg-cp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('planCopy', () => {
  it('copies in: a local file to NAME:/path, a directory target gets the file name', () => {
    expect(planCopy('a.txt', 'web:/workspace/b.txt', dir)).toEqual({ direction: 'in', local: join(dir, 'a.txt'), sandbox: 'web', path: '/workspace/b.txt' });
    expect(planCopy('sub/a.txt', 'web:/tmp/', dir)).toMatchObject({ path: '/tmp/a.txt' });
    expect(planCopy('-', 'web:/tmp/in', dir)).toMatchObject({ local: '-', path: '/tmp/in' });
  });

  it('copies out: NAME:/path to a local file, an existing directory or -', () => {
    expect(planCopy('web:/etc/os-release', 'out.txt', dir)).toEqual({ direction: 'out', sandbox: 'web', path: '/etc/os-release', local: join(dir, 'out.txt') });
    expect(planCopy('web:/etc/os-release', '.', dir)).toMatchObject({ local: join(dir, 'os-release') });
    expect(planCopy('web:/etc/os-release', '-', dir)).toMatchObject({ local: '-' });
  });

  it.each([
    ['a', 'b', 'one of SRC and DST must be NAME:/path'],
    ['web:/a', 'db:/b', 'one sandbox'],
    ['web:relative', 'x', 'must be absolute'],
    ['-', 'web:/tmp/', 'needs a file name'],
    ['web:/', '.', 'names a directory'],
  ])('%s %s → INVALID_ARGUMENT', (src, dst, message) => {
    let err: unknown;
    try {
      planCopy(src, dst, dir);
    } catch (e) {
      err = e;
    }
    expect((err as BkgError).code).toBe('INVALID_ARGUMENT');
    expect((err as BkgError).message).toContain(message);
  });
});

describe('format', () => {
  it('pads table columns without trailing blanks', () => {
    expect(renderTable(['NAME', 'STATUS'], [['web', 'running'], ['database', '-']])).toBe('NAME      STATUS\nweb       running\ndatabase  -\n');
  });

  it('renders times relative to now', () => {
    const now = Date.parse('2024-01-01T12:00:00Z');
    expect(ago('2024-01-01T11:55:00Z', now)).toBe('5m ago');
    expect(ago(null, now)).toBe('-');
    expect(until('2024-01-01T14:00:00Z', now)).toBe('in 2h');
    expect(until('2024-01-01T11:00:00Z', now)).toBe('expired');
    expect(earliest('2024-01-02T00:00:00Z', null, '2024-01-01T13:00:00Z')).toBe('2024-01-01T13:00:00Z');
  });

  it('renders changes git-style', () => {
    expect(renderChanges([{ path: 'a.py', kind: 'added', type: 'file' }, { path: 'lib', kind: 'deleted', type: 'dir' }])).toBe('A  a.py\nD  lib/\n');
  });
});
