/**
 * The caller of a forwarded request, as it travels between hosts in `x-bkg-forwarded-principal`:
 * the Principal the forwarding host authenticated, plus `host` (that host's id). JSON, with every
 * character outside printable ASCII escaped, so it is a valid header value whatever a key is named.
 */
import { BkgError } from '../../api/errors.js';
import { isRole, type Role } from '../../api/names.js';
import type { Principal } from '../auth/api-keys.js';

export const FORWARDED_PRINCIPAL_HEADER = 'x-bkg-forwarded-principal';
const MAX_HEADER_BYTES = 4096;
const ID = /^[A-Za-z0-9_:.-]{1,200}$/;

export interface ForwardedPrincipal {
  id: string;
  name: string;
  role: Role;
  namespaceId: string | null;
  sandboxId: string | null;
  /** The forwarding host's id. */
  host: string;
}

export function encodeForwarded(p: Principal, host: string): string {
  const wire: ForwardedPrincipal = { id: p.id, name: p.name, role: p.role, namespaceId: p.namespaceId, sandboxId: p.sandboxId, host };
  return JSON.stringify(wire).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function refused(why: string): BkgError {
  return new BkgError('UNAUTHENTICATED', `a request on the peer listener must carry the forwarding host's caller in ${FORWARDED_PRINCIPAL_HEADER}: ${why}`);
}

const nullableId = (v: unknown): v is string | null => v === null || (typeof v === 'string' && ID.test(v));

/** The header's principal, checked for shape (what it may do is decided by the receiving host, never by the header). */
export function decodeForwarded(raw: string | string[] | undefined): ForwardedPrincipal {
  if (raw === undefined) throw refused('it is missing');
  if (typeof raw !== 'string' || raw.length > MAX_HEADER_BYTES) throw refused('it must be one JSON object of at most 4 KiB');
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw refused('it is not JSON');
  }
  const o = (typeof v === 'object' && v !== null && !Array.isArray(v) ? v : {}) as Record<string, unknown>;
  const { id, name, role, namespaceId, sandboxId, host } = o;
  if (typeof id !== 'string' || !ID.test(id)) throw refused('"id" must be a principal id');
  if (typeof host !== 'string' || !ID.test(host)) throw refused('"host" must be the forwarding host\'s id');
  if (typeof name !== 'string' || !isRole(role) || !nullableId(namespaceId) || !nullableId(sandboxId)) throw refused('"name", "role", "namespaceId" and "sandboxId" must be those of a principal');
  return { id, name, role, namespaceId, sandboxId, host };
}
