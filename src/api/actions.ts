/**
 * The actions a caller can take through any door: the names routes declare as their access rule
 * and the daemon's rights table (src/daemon/auth/rights.ts) maps to the kinds of key allowed.
 */
export const ACTIONS = [
  'sandbox.list', 'sandbox.read', 'sandbox.create', 'sandbox.start', 'sandbox.stop', 'sandbox.delete', 'sandbox.exec', 'sandbox.files.write', 'sandbox.apply', 'sandbox.snapshot',
  'policy.read', 'policy.write', 'key.manage', 'audit.read', 'daemon.read', 'daemon.shutdown', 'daemon.configure', 'llm.manage', 'llm.request', 'mcp.session',
  'secret.list', 'secret.write', 'secret.use', 'peer.manage',
] as const;

export type Action = (typeof ACTIONS)[number];
