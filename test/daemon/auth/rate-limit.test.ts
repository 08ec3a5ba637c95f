/** Token buckets per API key, on a fake clock. */
import { describe, expect, it } from 'vitest';
import { BkgError } from '../../../src/api/errors.js';
import { DEFAULT_RATE_LIMITS, parseRateLimitsEnv, RateLimiter, resolveRateLimits } from '../../../src/daemon/auth/rate-limit.js';

const T0 = 1_750_000_000_000;

function drain(limiter: RateLimiter, key: string, role: 'admin' | 'namespace' | 'readonly', now: number): number {
  let n = 0;
  while (limiter.take(key, role, now).ok) n++;
  return n;
}

describe('RateLimiter', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_RATE_LIMITS).toEqual({
      admin: { ratePerSec: 100, burst: 200 },
      namespace: { ratePerSec: 20, burst: 40 },
      readonly: { ratePerSec: 10, burst: 20 },
    });
    expect(new RateLimiter().config).toEqual(DEFAULT_RATE_LIMITS);
  });

  it('allows a burst, then refuses with an integer Retry-After of at least 1 second', () => {
    const limiter = new RateLimiter();
    for (let i = 0; i < 40; i++) expect(limiter.take('k1', 'namespace', T0)).toEqual({ ok: true });
    expect(limiter.take('k1', 'namespace', T0)).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(drain(new RateLimiter(), 'a', 'admin', T0)).toBe(200);
    expect(drain(new RateLimiter(), 'r', 'readonly', T0)).toBe(20);
  });

  it('refills at the role rate as (fake) time passes, never beyond the burst', () => {
    const limiter = new RateLimiter();
    expect(drain(limiter, 'k1', 'namespace', T0)).toBe(40);
    expect(drain(limiter, 'k1', 'namespace', T0 + 49)).toBe(0); // 0.98 token
    expect(drain(limiter, 'k1', 'namespace', T0 + 50)).toBe(1);
    expect(drain(limiter, 'k1', 'namespace', T0 + 1050)).toBe(20); // 20/s
    expect(drain(limiter, 'k1', 'namespace', T0 + 3_600_000)).toBe(40); // capped at the burst
  });

  it('computes Retry-After from the refill rate, rounding up', () => {
    const limiter = new RateLimiter({ readonly: { ratePerSec: 0.25, burst: 1 } });
    expect(limiter.take('k', 'readonly', T0)).toEqual({ ok: true });
    expect(limiter.take('k', 'readonly', T0)).toEqual({ ok: false, retryAfterSeconds: 4 });
    expect(limiter.take('k', 'readonly', T0 + 1500)).toEqual({ ok: false, retryAfterSeconds: 3 }); // 2.5 s left
    expect(limiter.take('k', 'readonly', T0 + 3999)).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(limiter.take('k', 'readonly', T0 + 4000)).toEqual({ ok: true });
  });

  it('keeps keys apart: one key exhausted does not slow another, even of the same role', () => {
    const limiter = new RateLimiter();
    expect(drain(limiter, 'k1', 'namespace', T0)).toBe(40);
    expect(limiter.take('k2', 'namespace', T0)).toEqual({ ok: true });
    expect(drain(limiter, 'k2', 'namespace', T0)).toBe(39);
    expect(limiter.take('k1', 'namespace', T0).ok).toBe(false);
  });

  it('does not refill when the clock steps back', () => {
    const limiter = new RateLimiter();
    expect(drain(limiter, 'k', 'namespace', T0)).toBe(40);
    expect(limiter.take('k', 'namespace', T0 - 60_000).ok).toBe(false);
    expect(drain(limiter, 'k', 'namespace', T0 + 100)).toBe(2);
  });

  it('accepts partial overrides and refuses invalid configuration', () => {
    expect(resolveRateLimits({ admin: { burst: 5 } }).admin).toEqual({ ratePerSec: 100, burst: 5 });
    expect(drain(new RateLimiter({ namespace: { ratePerSec: 1, burst: 3 } }), 'k', 'namespace', T0)).toBe(3);
    const invalid = [
      { admin: { ratePerSec: 0 } },
      { admin: { ratePerSec: -1 } },
      { admin: { ratePerSec: Number.NaN } },
      { admin: { ratePerSec: Number.POSITIVE_INFINITY } },
      { namespace: { burst: 0 } },
      { namespace: { burst: 2.5 } },
      { readonly: { burst: '10' as unknown as number } },
      { root: { ratePerSec: 1, burst: 1 } } as never,
      { admin: 5 } as never,
    ];
    for (const overrides of invalid) {
      let err: unknown;
      try {
        new RateLimiter(overrides);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(overrides)).toBeInstanceOf(BkgError);
      expect((err as BkgError).code).toBe('INVALID_CONFIG');
    }
    expect(() => new RateLimiter({}, { maxBuckets: 0 })).toThrow(BkgError);
  });

  it('bounds memory: idle (refilled) buckets are dropped, and never more than maxBuckets are kept', () => {
    const limiter = new RateLimiter({}, { maxBuckets: 3 });
    for (let i = 0; i < 100; i++) limiter.take(`k${i}`, 'namespace', T0);
    expect(limiter.size).toBe(3);

    const idle = new RateLimiter();
    idle.take('a', 'namespace', T0);
    idle.take('b', 'namespace', T0);
    expect(idle.size).toBe(2);
    // One token refills in 50 ms at 20/s: by then 'a' and 'b' are full again and carry no state.
    idle.take('c', 'namespace', T0 + 50);
    expect(idle.size).toBe(1);

    // Dropping a full bucket changes nothing for its key; an exhausted one is kept.
    const kept = new RateLimiter();
    drain(kept, 'busy', 'namespace', T0);
    kept.take('other', 'namespace', T0 + 10);
    expect(kept.size).toBe(2);
    expect(kept.take('busy', 'namespace', T0 + 10).ok).toBe(false);
    kept.forget('busy');
    expect(kept.take('busy', 'namespace', T0 + 10).ok).toBe(true);
  });

  it('needs no timers and defaults to the wall clock', () => {
    const limiter = new RateLimiter({ readonly: { ratePerSec: 1, burst: 1 } });
    expect(limiter.take('k', 'readonly')).toEqual({ ok: true });
    const r = limiter.take('k', 'readonly');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(Number.isInteger(r.retryAfterSeconds) && r.retryAfterSeconds >= 1).toBe(true);
  });
});

describe('BKG_RATE_LIMITS', () => {
  it('parses ROLE=RATE/BURST pairs and refuses anything else', () => {
    expect(parseRateLimitsEnv(undefined)).toEqual({});
    expect(parseRateLimitsEnv('namespace=50/100, readonly=0.5/2')).toEqual({ namespace: { ratePerSec: 50, burst: 100 }, readonly: { ratePerSec: 0.5, burst: 2 } });
    for (const bad of ['namespace=50', 'god=1/1', 'namespace=0/5', 'namespace=5/0', '']) {
      expect(() => parseRateLimitsEnv(bad), bad).toThrowError(/BKG_RATE_LIMITS|rate limits/);
    }
  });
});
