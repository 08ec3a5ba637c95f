/**
 * The dashboard's first look, over REST: the sandboxes, and what the admin views show (keys, the
 * audit tail, models, access requests). A part the key may not read comes back FORBIDDEN and its view
 * says it needs an admin key; the rest still shows.
 */
import { BkgError } from '../../api/errors.js';
import type { DaemonClient } from '../../client/daemon-client.js';
import type { Fetched, Snapshot } from '../state/reducer.js';
import { AUDIT_TAIL, type Role } from '../state/types.js';

/** The calls the dashboard makes (DaemonClient has them all; tests may pass the real one). */
export type DashboardClient = Pick<DaemonClient,
  'whoami' | 'listSandboxes' | 'getSandbox' | 'startSandbox' | 'stopSandbox' | 'removeSandbox' | 'exec' | 'changes' | 'logs'
  | 'listKeys' | 'revokeKey' | 'auditEvents' | 'verifyAudit' | 'llmModels' | 'llmRequests' | 'llmApprove' | 'llmDeny'>;

/**
 * The audit tail starts with the last hour (the API lists oldest first from `since`, at most
 * `limit`): the reducer keeps the newest AUDIT_TAIL of it, live events follow.
 */
export const AUDIT_START = { since: '1h', limit: 5000 };

export async function fetched<T>(p: Promise<T[]>): Promise<Fetched<T>> {
  try {
    return { ok: true, items: await p };
  } catch (err) {
    const forbidden = err instanceof BkgError && err.code === 'FORBIDDEN';
    return { ok: false, forbidden, message: err instanceof Error ? err.message : String(err) };
  }
}

/** A view's part this key may not read: not asked (asking would be refused, and every refusal is an audit event). */
export function notForThisKey(kind: Role, what: string): Fetched<never> {
  return { ok: false, forbidden: true, message: `${KIND_NAME[kind]} cannot ${what}: this view needs an admin key` };
}

const KIND_NAME: Record<Role, string> = { admin: 'admin keys', namespace: 'namespace keys', readonly: 'read-only keys', sandbox: 'a sandbox\'s own key' };

/**
 * The whole snapshot: who the key is (GET /api/v1/whoami), then, in parallel, the sandboxes and
 * each admin part the key's actions allow.
 */
export async function loadSnapshot(client: DashboardClient, now: () => number): Promise<Snapshot> {
  const [me, sandboxes] = await Promise.all([client.whoami(), client.listSandboxes({ usage: true })]);
  const role = me.kind;
  const may = new Set(me.actions);
  const part = <T>(action: string, what: string, load: () => Promise<T[]>): Promise<Fetched<T>> => (may.has(action) ? fetched(load()) : Promise.resolve(notForThisKey(role, what)));
  const [keys, audit, models, requests] = await Promise.all([
    part('key.manage', 'list API keys', () => client.listKeys()),
    part('audit.read', 'read the audit log', () => client.auditEvents(AUDIT_START)),
    part('llm.manage', 'manage models', () => client.llmModels()),
    part('llm.manage', 'decide model access requests', () => client.llmRequests()),
  ]);
  const tail = audit.ok ? { ok: true as const, items: audit.items.slice(-AUDIT_TAIL) } : audit;
  return { at: now(), role, sandboxes, keys, audit: tail, models, requests };
}
