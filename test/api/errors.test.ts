/** The error registry's class: one BkgError for every copy of its module (the CLI's bundle and dist/ each hold one). */
import { describe, expect, it } from 'vitest';
import { BkgError, toErrorBody } from '../../src/api/errors.js';

describe('BkgError', () => {
  it('is recognised across copies of its module, and only real BkgErrors are', async () => {
    // a second instance of the module, as the CLI's bundle carries beside dist/api/errors.js
    const again = '../../src/api/errors.js?copy'; // a module id of its own: vitest loads the file a second time
    const copy = (await import(again)) as typeof import('../../src/api/errors.js');
    expect(copy.BkgError).not.toBe(BkgError);
    const theirs = new copy.BkgError('NOT_FOUND', 'no such sandbox');
    expect(theirs instanceof BkgError).toBe(true);
    expect(new BkgError('CONFLICT', 'x') instanceof copy.BkgError).toBe(true);
    expect(toErrorBody(theirs)).toEqual({ status: 404, body: { error: { code: 'NOT_FOUND', message: 'no such sandbox', hint: expect.any(String) } } });
    // look-alikes are not: a plain Error, an object with the same fields, a copy of its properties
    expect(new Error('x') instanceof BkgError).toBe(false);
    expect({ code: 'NOT_FOUND', message: 'x', hint: 'h', name: 'BkgError' } instanceof BkgError).toBe(false);
    expect({ ...theirs } instanceof BkgError).toBe(false); // the mark is not enumerable: a spread does not carry it
    expect((null as unknown) instanceof BkgError).toBe(false);
    // the mark is not part of what is shown or sent
    expect(JSON.parse(JSON.stringify(theirs))).toEqual({ code: 'NOT_FOUND', hint: expect.any(String), name: 'BkgError' });
  });
});
