import { describe, expect, it } from 'vitest';
import { BkgError } from '../../src/api/errors.js';
import { parseFastExec } from '../../src/cli/fast-exec.js';

describe('bkg exec fast path', () => {
  it('parses the simple form', () => {
    expect(parseFastExec(['web', '-e', 'A=1', '--env=B=2', '--cwd', '/tmp', '--timeout', '2s', '--json', '--', 'ls', '-la'])).toEqual({
      name: 'web',
      json: true,
      req: { cmd: ['ls', '-la'], env: { A: '1', B: '2' }, cwd: '/tmp', timeout_ms: 2000 },
      timeoutMs: 2000,
    });
    expect(parseFastExec(['web', '--', 'true'])).toEqual({ name: 'web', json: false, req: { cmd: ['true'] } });
  });

  it.each([
    [['web', '-i', '--', 'cat']],
    [['web', '-t', '--', 'sh']],
    [['--help']],
    [['web', 'true']],
    [['web', '--']],
    [['--', 'true']],
    [['web', '--cwd', 'relative', '--', 'true']],
    [['web', 'other', '--', 'true']],
  ])('leaves %j to the full CLI', (args) => {
    expect(parseFastExec(args)).toBeNull();
  });

  it('reports bad values like the full CLI', () => {
    expect(() => parseFastExec(['web', '--timeout', 'soon', '--', 'true'])).toThrow(BkgError);
    expect(() => parseFastExec(['web', '-e', 'NOPE', '--', 'true'])).toThrow(/--env/);
  });
});
