/**
 * The rights model as data: every action a caller can take through any door (REST on each
 * listener, WebSocket, MCP), and which kinds of key may take it. `Authorizer` (authorize.ts) is
 * the one function that applies it; README's rights table is this table.
 */
import type { Action } from '../../api/actions.js';
import { KEY_KINDS, type KeyKind } from '../../api/names.js';
import type { Principal } from './api-keys.js';

/**
 * admin: everything. namespace: its own namespace. readonly: look, never change (its namespace, or
 * all). sandbox: the key bkg injects into a sandbox: that sandbox only. The one list lives in the
 * wire contract (whoami's `kind`).
 */
export { KEY_KINDS, type KeyKind };

export function keyKind(p: Principal): KeyKind {
  if (p.role === 'admin') return 'admin';
  if (p.sandboxId !== null) return 'sandbox';
  return p.role;
}

interface Right {
  /** What the action is, for messages ("... cannot create sandboxes"). */
  readonly what: string;
  readonly kinds: readonly KeyKind[];
}

const ALL = KEY_KINDS;

export const RIGHTS: Record<Action, Right> = {
  'sandbox.list': { what: 'list sandboxes', kinds: ALL },
  'sandbox.read': { what: 'read a sandbox (status, logs, changes, files)', kinds: ALL },
  'sandbox.create': { what: 'create sandboxes', kinds: ['admin', 'namespace'] },
  'sandbox.start': { what: 'start sandboxes', kinds: ['admin', 'namespace'] },
  'sandbox.stop': { what: 'stop sandboxes', kinds: ['admin', 'namespace'] },
  'sandbox.delete': { what: 'delete sandboxes', kinds: ['admin', 'namespace'] },
  'sandbox.exec': { what: 'run commands in a sandbox', kinds: ['admin', 'namespace', 'sandbox'] },
  'sandbox.files.write': { what: 'write files in a sandbox', kinds: ['admin', 'namespace', 'sandbox'] },
  'sandbox.apply': { what: 'apply workspace changes to the host', kinds: ['admin', 'namespace'] },
  'sandbox.snapshot': { what: 'take, list, remove and start from snapshots; fork sandboxes', kinds: ['admin', 'namespace'] },
  'policy.read': { what: 'read namespace policies', kinds: ['admin', 'namespace', 'readonly'] },
  'policy.write': { what: 'change namespace policies', kinds: ['admin'] },
  'key.manage': { what: 'create, list, revoke or rotate API keys', kinds: ['admin'] },
  'audit.read': { what: 'read the audit log', kinds: ['admin'] },
  'daemon.read': { what: 'read the daemon\'s details', kinds: ['admin', 'namespace', 'readonly'] },
  'daemon.shutdown': { what: 'stop the daemon', kinds: ['admin'] },
  'daemon.configure': { what: 'read or change the daemon\'s run-time settings', kinds: ['admin'] },
  'llm.manage': { what: 'manage models and model access', kinds: ['admin'] },
  'llm.request': { what: 'request model access', kinds: ['admin', 'namespace', 'sandbox'] },
  'mcp.session': { what: 'open MCP sessions', kinds: ALL },
  'secret.list': { what: 'list secrets (their names; values are never shown)', kinds: ['admin', 'namespace'] },
  'secret.write': { what: 'set or remove secrets', kinds: ['admin', 'namespace'] },
  'secret.use': { what: 'give secrets to sandboxes', kinds: ['admin', 'namespace'] },
  'peer.manage': { what: 'manage this host\'s P2P node and its trusted peers', kinds: ['admin'] },
};

export type { Action };

export function allowed(kind: KeyKind, action: Action): boolean {
  return RIGHTS[action].kinds.includes(kind);
}

export const KIND_LABEL: Record<KeyKind, string> = {
  admin: 'admin keys',
  namespace: 'namespace keys',
  readonly: 'read-only keys',
  sandbox: 'a sandbox\'s own key (it acts on its own sandbox only)',
};
