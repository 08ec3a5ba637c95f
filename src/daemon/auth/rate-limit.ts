/**
 * Per-key token buckets. Each API key id has a bucket of `burst` tokens refilled at `ratePerSec`
 * according to its role; a request takes one token or is refused with a Retry-After in whole
 * seconds. Time is passed in (no timers), and memory is bounded: a bucket that has refilled to
 * full carries no state and is dropped, and past `maxBuckets` the least recently used go first.
 */
import { BkgError } from '../../api/errors.js';
import { isRole, ROLES, type Role } from '../../api/names.js';

export interface RateSpec {
  ratePerSec: number;
  burst: number;
}

export type RateLimitConfig = Readonly<Record<Role, Readonly<RateSpec>>>;
export type RateLimitOverrides = Partial<Record<Role, Partial<RateSpec>>>;

export const DEFAULT_RATE_LIMITS: RateLimitConfig = Object.freeze({
  admin: Object.freeze({ ratePerSec: 100, burst: 200 }),
  namespace: Object.freeze({ ratePerSec: 20, burst: 40 }),
  readonly: Object.freeze({ ratePerSec: 10, burst: 20 }),
});

export type TakeResult = { ok: true } | { ok: false; retryAfterSeconds: number };

export interface RateLimiterOptions {
  /** Most buckets kept at once (default 10,000); beyond it the least recently used are dropped. */
  maxBuckets?: number;
}

/** BKG_RATE_LIMITS, e.g. `namespace=50/100,readonly=5/10` (role=requests-per-second/burst). */
export function parseRateLimitsEnv(raw: string | undefined): RateLimitOverrides {
  if (raw === undefined) return {};
  const out: RateLimitOverrides = {};
  for (const part of raw.split(',')) {
    const m = /^\s*([a-z]+)=(\d+(?:\.\d+)?)\/(\d+)\s*$/.exec(part);
    if (!m) throw new BkgError('INVALID_CONFIG', `BKG_RATE_LIMITS: "${part}" is not ROLE=RATE/BURST (example: namespace=50/100)`, { details: { setting: 'BKG_RATE_LIMITS' } });
    out[m[1] as Role] = { ratePerSec: Number(m[2]), burst: Number(m[3]) };
  }
  resolveRateLimits(out);
  return out;
}

/** The defaults with `overrides` applied, validated: anything invalid is INVALID_CONFIG, never ignored. */
export function resolveRateLimits(overrides: RateLimitOverrides = {}): RateLimitConfig {
  if (typeof overrides !== 'object' || overrides === null) throw new BkgError('INVALID_CONFIG', 'rate limits must be an object keyed by role');
  for (const role of Object.keys(overrides)) {
    if (!isRole(role)) throw new BkgError('INVALID_CONFIG', `rate limits: unknown role "${role}" (roles: ${ROLES.join(', ')})`);
  }
  const out = {} as Record<Role, RateSpec>;
  for (const role of ROLES) {
    const spec = { ...DEFAULT_RATE_LIMITS[role], ...stripUndefined(overrides[role]) };
    if (typeof spec.ratePerSec !== 'number' || !Number.isFinite(spec.ratePerSec) || spec.ratePerSec <= 0) {
      throw new BkgError('INVALID_CONFIG', `rate limits: ${role}.ratePerSec must be a positive number, not ${String(spec.ratePerSec)}`);
    }
    if (typeof spec.burst !== 'number' || !Number.isSafeInteger(spec.burst) || spec.burst < 1) {
      throw new BkgError('INVALID_CONFIG', `rate limits: ${role}.burst must be an integer >= 1, not ${String(spec.burst)}`);
    }
    out[role] = Object.freeze({ ratePerSec: spec.ratePerSec, burst: spec.burst });
  }
  return Object.freeze(out);
}

function stripUndefined(spec: Partial<RateSpec> | undefined): Partial<RateSpec> {
  if (spec === undefined) return {};
  if (typeof spec !== 'object' || spec === null) throw new BkgError('INVALID_CONFIG', 'rate limits: each role needs { ratePerSec, burst }');
  return Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== undefined)) as Partial<RateSpec>;
}

interface Bucket {
  tokens: number;
  /** Time (ms) `tokens` was computed at. */
  at: number;
  spec: Readonly<RateSpec>;
}

export class RateLimiter {
  readonly config: RateLimitConfig;
  readonly #maxBuckets: number;
  /** Insertion order is recency order: the first entry is the least recently used. */
  readonly #buckets = new Map<string, Bucket>();

  constructor(overrides: RateLimitOverrides = {}, opts: RateLimiterOptions = {}) {
    this.config = resolveRateLimits(overrides);
    const max = opts.maxBuckets ?? 10_000;
    if (!Number.isSafeInteger(max) || max < 1) throw new BkgError('INVALID_CONFIG', `rate limits: maxBuckets must be an integer >= 1, not ${String(max)}`);
    this.#maxBuckets = max;
  }

  /** Take one token from `keyId`'s bucket at time `now` (ms). */
  take(keyId: string, role: Role, now: number = Date.now()): TakeResult {
    const spec = this.config[role];
    if (!isRole(role) || !spec) throw new BkgError('INVALID_ARGUMENT', `unknown role "${String(role)}"`);
    if (!Number.isFinite(now)) throw new BkgError('INVALID_ARGUMENT', 'rate limiter clock must be a finite number of milliseconds');

    const prev = this.#buckets.get(keyId);
    let tokens = spec.burst;
    let at = now;
    if (prev) {
      this.#buckets.delete(keyId);
      // A clock that steps back refills nothing (and never un-refills).
      at = Math.max(prev.at, now);
      tokens = Math.min(spec.burst, prev.tokens + (Math.max(0, now - prev.at) / 1000) * spec.ratePerSec);
    }

    let result: TakeResult;
    if (tokens >= 1) {
      tokens -= 1;
      result = { ok: true };
    } else {
      result = { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / spec.ratePerSec)) };
    }
    this.#buckets.set(keyId, { tokens, at, spec });
    this.#evict(now);
    return result;
  }

  /** Drop a key's bucket (e.g. after it was revoked). */
  forget(keyId: string): void {
    this.#buckets.delete(keyId);
  }

  /** Buckets currently held. */
  get size(): number {
    return this.#buckets.size;
  }

  #evict(now: number): void {
    // Least recently used first: drop it while it has refilled to full (it then equals no bucket).
    for (const [id, b] of this.#buckets) {
      if (this.#buckets.size <= 1 || !isFull(b, now)) break;
      this.#buckets.delete(id);
    }
    while (this.#buckets.size > this.#maxBuckets) {
      const oldest = this.#buckets.keys().next();
      if (oldest.done) break;
      this.#buckets.delete(oldest.value);
    }
  }
}

function isFull(b: Bucket, now: number): boolean {
  return b.tokens + (Math.max(0, now - b.at) / 1000) * b.spec.ratePerSec >= b.spec.burst;
}
