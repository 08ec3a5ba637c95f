import { describe, expect, expectTypeOf, it } from 'vitest';
import { BkgError } from '../../src/api/errors.js';
import { validate } from '../../src/api/validate.js';

const Schema = {
  type: 'object',
  properties: {
    name: { type: 'string', required: true, minLength: 1, pattern: /^[a-z]+$/ },
    count: { type: 'integer', min: 0 },
    mode: { type: 'enum', values: ['a', 'b'] },
    tags: { type: 'array', items: { type: 'string' }, maxLength: 2 },
    meta: { type: 'object', additionalProperties: true },
  },
} as const;

function fieldOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BkgError);
    expect((err as BkgError).code).toBe('INVALID_ARGUMENT');
    return (err as BkgError).details?.field;
  }
  throw new Error('expected a validation error');
}

describe('validate', () => {
  it('returns the value, typed by the schema', () => {
    const v = validate(Schema, { name: 'abc', count: 2, mode: 'b', tags: ['x'], meta: { any: [1] } });
    expectTypeOf(v.name).toEqualTypeOf<string>();
    expectTypeOf(v.count).toEqualTypeOf<number | undefined>();
    expectTypeOf(v.mode).toEqualTypeOf<'a' | 'b' | undefined>();
    expectTypeOf(v.tags).toEqualTypeOf<string[] | undefined>();
    expect(v.mode).toBe('b');
  });

  it.each([
    [undefined, 'body'],
    [[], 'body'],
    [{}, 'name'],
    [{ name: '' }, 'name'],
    [{ name: 'ABC' }, 'name'],
    [{ name: 'a', count: -1 }, 'count'],
    [{ name: 'a', count: 2 ** 53 }, 'count'],
    [{ name: 'a', count: '1' }, 'count'],
    [{ name: 'a', mode: 'c' }, 'mode'],
    [{ name: 'a', mode: 1 }, 'mode'],
    [{ name: 'a', tags: ['x', 'y', 'z'] }, 'tags'],
    [{ name: 'a', tags: 'x' }, 'tags'],
    [{ name: 'a', meta: [] }, 'meta'],
    [{ name: 'a', extra: 1 }, 'extra'],
    [{ name: 'a', 'we ird': 1 }, '["we ird"]'],
  ])('%j is rejected naming %s', (value, field) => {
    expect(fieldOf(() => validate(Schema, value))).toBe(field);
  });

  it('does not see inherited properties', () => {
    const value = Object.create({ name: 'inherited' }) as object;
    expect(fieldOf(() => validate(Schema, value))).toBe('name');
  });
});
