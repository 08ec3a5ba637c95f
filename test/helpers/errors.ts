/** The BkgError a function throws (fails the test when it throws something else, or nothing). */
import { expect } from 'vitest';
import { BkgError } from '../../src/api/errors.js';

export function caught(fn: () => unknown): BkgError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BkgError);
    return err as BkgError;
  }
  throw new Error('expected a BkgError');
}

/** The BkgError a promise rejects with (fails the test when it resolves or rejects otherwise). */
export async function rejection(p: Promise<unknown>): Promise<BkgError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(BkgError);
    return err as BkgError;
  }
  throw new Error('expected a BkgError');
}
