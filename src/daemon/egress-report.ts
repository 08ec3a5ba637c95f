/**
 * What the daemon does with its sandboxes' egress (src/runtime/egress/): every connection counted
 * (bkg_egress_connections_total{outcome}), every refusal (NETWORK_DENIED) told to the logs, the
 * audit log (`network.denied`, outcome denied) and the event stream (`network.denied`). Identical
 * refusals (same sandbox, host, port and reason) are told at most once a window; the next one told
 * carries how many it stands for (`count`), so a loop of refused requests cannot flood the audit
 * chain. Exec results list every refusal anyway (grouped), independently of this.
 */
import type { NetworkDenial } from '../api/schema/sandboxes.js';
import type { Logger } from '../log.js';
import type { EgressObservers } from '../runtime/egress/proxies.js';
import type { EgressDenial } from '../runtime/egress/proxy.js';
import type { AuditLog } from '../store/audit.js';
import type { Sandbox, SandboxRepo } from '../store/repos/index.js';
import type { Registry } from './prometheus.js';

/** Identical refusals are told at most once per this many ms. */
export const DENIAL_WINDOW_MS = 60_000;
/** Past this many remembered refusals, those outside the window are forgotten. */
const REMEMBERED = 10_000;

export interface EgressReportDeps {
  log: Logger;
  audit: Pick<AuditLog, 'append'>;
  sandboxes: Pick<SandboxRepo, 'get'>;
  registry: Registry;
  /** The event stream's publisher (called only once the daemon serves). */
  publish?: (s: Sandbox, d: NetworkDenial) => void;
  now?: () => number;
}

export class EgressReport {
  private readonly connections;
  /** Per identical refusal: when it was last told, and how many came since. */
  private readonly told = new Map<string, { at: number; since: number }>();

  constructor(private readonly d: EgressReportDeps) {
    this.connections = d.registry.counter('bkg_egress_connections_total', 'Connections (and plain HTTP requests) of sandboxes through their egress proxy, by outcome: allowed, denied (not on the allowlist), failed (could not be resolved or reached).', ['outcome']);
  }

  /** The engine's observers (EngineDeps.egress.observers). */
  readonly observers: EgressObservers = (sandboxId) => ({
    outcome: (outcome) => this.connections.inc({ outcome }),
    denied: (denial) => this.denied(sandboxId, denial),
  });

  private denied(sandboxId: string, denial: EgressDenial): void {
    const now = this.d.now?.() ?? Date.now();
    const key = `${sandboxId}\0${denial.host}\0${denial.port}\0${denial.reason}`;
    const last = this.told.get(key);
    if (last && now - last.at < DENIAL_WINDOW_MS) {
      last.since++;
      return;
    }
    const count = (last?.since ?? 0) + 1;
    this.told.set(key, { at: now, since: 0 });
    if (this.told.size > REMEMBERED) for (const [k, v] of this.told) if (now - v.at >= DENIAL_WINDOW_MS) this.told.delete(k);
    const s = this.d.sandboxes.get(sandboxId);
    const told: NetworkDenial = { code: 'NETWORK_DENIED', ...denial, count };
    this.d.log.warn({ sandbox: sandboxId, host: denial.host, port: denial.port, reason: denial.reason, count }, `egress refused: ${denial.message}`);
    if (!s) return;
    this.d.audit.append({
      actor: 'daemon', namespace: s.namespaceId, action: 'network.denied', target: s.id, outcome: 'denied',
      details: { code: 'NETWORK_DENIED', host: denial.host, port: denial.port, reason: denial.reason, count },
    });
    this.d.publish?.(s, told);
  }
}
