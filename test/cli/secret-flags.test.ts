/** --secret flags → the create request's `secrets`: the three forms, and errors naming the flag (through `bkg add`'s one conversion too). */
import { describe, expect, it } from 'vitest';
import { parseSecretFlags } from '../../src/cli/secret-flags.js';
import { requestFromFlags, sandboxFromFlags } from '../../src/cli/sandbox-request.js';
import { caught, rejection } from '../helpers/errors.js';

describe('--secret', () => {
  it('reads NAME, NAME=ENV and NAME:file (NAME=NAME is plain NAME)', () => {
    expect(parseSecretFlags(['A', 'B=PGPASSWORD', 'C:file', 'D=D'])).toEqual([{ name: 'A' }, { name: 'B', env: 'PGPASSWORD' }, { name: 'C', file: true }, { name: 'D' }]);
    expect(requestFromFlags({ secret: ['A'] }).secrets).toEqual([{ name: 'A' }]);
    expect(requestFromFlags({}).secrets).toBeUndefined();
  });

  it.each([
    ['a-b', 'does not start with a valid secret name'],
    ['A=B=C', 'has more than one ='],
    ['A=1X', 'names "1X", which is not a valid variable name'],
    ['A=B:file', 'cannot be both a variable and a file'],
    ['A:env', 'is not a form bkg knows'],
    ['', 'does not start with a valid secret name'],
  ])('refuses %j, naming the flag and the forms', (flag, why) => {
    const e = caught(() => parseSecretFlags([flag]));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toBe(`--secret: "${flag}" ${why}; use NAME (the variable NAME), NAME=ENV (the variable ENV) or NAME:file (the file /run/secrets/NAME)`);
  });

  it('goes into cave.yaml entries as the API\'s objects, and too many is refused naming --secret', async () => {
    expect((await sandboxFromFlags('web', { secret: ['TOKEN', 'KEY:file'] })).secrets).toEqual([{ name: 'TOKEN' }, { name: 'KEY', file: true }]);
    const many = await rejection(sandboxFromFlags('web', { secret: Array.from({ length: 65 }, (_, i) => `S${i}`) }));
    expect(many.message).toMatch(/^--secret: /);
  });
});
