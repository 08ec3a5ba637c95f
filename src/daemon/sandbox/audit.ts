/**
 * The audit records of what callers did to sandboxes: successes, and failures with their error code
 * (a forwarded call names the host it came `via`). Each audited operation is a span of its own too
 * (`sandbox.create`, `sandbox.start`, `sandbox.exec`, ...), parent of the runtime's phases.
 */
import { BkgError } from '../../api/errors.js';
import type { AuditLog } from '../../store/audit.js';
import type { Sandbox } from '../../store/repos/index.js';
import { NO_TRACING, type Tracing } from '../../runtime/tracing.js';
import type { Principal } from '../auth/api-keys.js';

export class SandboxAudit {
  constructor(private readonly audit: AuditLog, private readonly tracing: Tracing = NO_TRACING) {}

  ok(p: Principal, action: string, s: Sandbox, details?: Record<string, unknown>): void {
    const all = p.via === undefined ? details : { ...details, via: p.via };
    this.audit.append({ actor: p.id, namespace: s.namespaceId, action, target: s.id, outcome: 'ok', ...(all ? { details: all } : {}) });
  }

  /** Record a failed state change too, then rethrow (refusals of the authorizer are audited there, with what was asked). */
  async audited<T>(p: Principal, action: string, target: string | null, fn: () => Promise<T> | T): Promise<T> {
    try {
      return await this.tracing.span(action, { 'bkg.action': action, 'bkg.target': target ?? '', 'bkg.actor': p.id }, async () => fn());
    } catch (err) {
      const e = err instanceof BkgError ? err : null;
      if (e?.code === 'FORBIDDEN' || e?.code === 'QUOTA_EXCEEDED') throw err;
      this.audit.append({ actor: p.id, namespace: p.namespaceId, action, target, outcome: e?.code === 'NOT_FOUND' ? 'denied' : 'error', details: { code: e?.code ?? 'INTERNAL', ...(p.via === undefined ? {} : { via: p.via }) } });
      throw err;
    }
  }
}
