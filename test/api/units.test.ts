import { describe, expect, it } from 'vitest';
import { BkgError } from '../../src/api/errors.js';
import { parseCpus, parseDuration, parsePositiveInt, parseSize } from '../../src/api/units.js';

describe('units', () => {
  it('parses sizes with binary units', () => {
    expect(parseSize('256m', '--memory')).toBe(256 * 1024 ** 2);
    expect(parseSize('1G', '--memory')).toBe(1024 ** 3);
    expect(parseSize('512k', '--disk')).toBe(512 * 1024);
    expect(parseSize('4096', '--disk')).toBe(4096);
    expect(parseSize('1.5g', '--disk')).toBe(1.5 * 1024 ** 3);
  });

  it('parses durations', () => {
    expect(parseDuration('30s', '--timeout')).toBe(30_000);
    expect(parseDuration('500ms', '--timeout')).toBe(500);
    expect(parseDuration('2m', '--timeout')).toBe(120_000);
    expect(parseDuration('10', '--timeout')).toBe(10_000);
  });

  it.each([
    () => parseSize('abc', '--memory'),
    () => parseSize('-1m', '--memory'),
    () => parseSize('0', '--memory'),
    () => parseSize('10x', '--memory'),
    () => parseDuration('soon', '--timeout'),
    () => parseDuration('0s', '--timeout'),
    () => parseCpus('0', '--cpus'),
    () => parseCpus('lots', '--cpus'),
    () => parsePositiveInt('1.5', '--pids'),
    () => parsePositiveInt('0', '--pids'),
  ])('rejects bad input with INVALID_ARGUMENT naming the flag (%#)', (fn) => {
    try {
      fn();
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(BkgError);
      expect((e as BkgError).code).toBe('INVALID_ARGUMENT');
      expect((e as BkgError).message).toMatch(/^--(memory|timeout|cpus|pids):/);
      expect((e as BkgError).exitCode).toBe(2);
    }
  });
});
