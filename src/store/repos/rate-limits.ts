/** Per-role rate limits stored in the database (overrides of the built-in defaults; BKG_RATE_LIMITS goes on top). */
import { BkgError } from '../../api/errors.js';
import type { Db } from '../db.js';
import type { RateLimitRepository } from '../repositories.js';
import { isRole, type Role } from '../../api/names.js';
import type { RateLimit } from '../types.js';

export type { RateLimit } from '../types.js';

interface Row {
  role: Role;
  rate_per_sec: number;
  burst: number;
}

export class RateLimitRepo implements RateLimitRepository {
  private readonly listStmt;
  private readonly upsertStmt;
  private readonly deleteStmt;

  constructor(db: Db) {
    this.listStmt = db.prepare('SELECT role, rate_per_sec, burst FROM rate_limits ORDER BY role');
    this.upsertStmt = db.prepare(
      'INSERT INTO rate_limits (role, rate_per_sec, burst) VALUES (?, ?, ?) ON CONFLICT (role) DO UPDATE SET rate_per_sec = excluded.rate_per_sec, burst = excluded.burst',
    );
    this.deleteStmt = db.prepare('DELETE FROM rate_limits WHERE role = ?');
  }

  list(): RateLimit[] {
    const rows = this.listStmt.all() as Row[];
    return rows.map((r) => ({ role: r.role, ratePerSec: r.rate_per_sec, burst: r.burst }));
  }

  /** Insert or replace the policy of one role. */
  set(policy: RateLimit): RateLimit {
    if (!isRole(policy.role)) throw new BkgError('INVALID_CONFIG', `unknown role "${String(policy.role)}" in rate-limit policy`);
    if (!Number.isFinite(policy.ratePerSec) || policy.ratePerSec <= 0) {
      throw new BkgError('INVALID_CONFIG', `rate-limit policy for ${policy.role}: ratePerSec must be a positive number, not ${policy.ratePerSec}`);
    }
    if (!Number.isSafeInteger(policy.burst) || policy.burst < 1) {
      throw new BkgError('INVALID_CONFIG', `rate-limit policy for ${policy.role}: burst must be an integer >= 1, not ${policy.burst}`);
    }
    this.upsertStmt.run(policy.role, policy.ratePerSec, policy.burst);
    return { role: policy.role, ratePerSec: policy.ratePerSec, burst: policy.burst };
  }

  /** Remove a role's override (the default applies again). False when there was none. */
  delete(role: Role): boolean {
    return this.deleteStmt.run(role).changes > 0;
  }
}
