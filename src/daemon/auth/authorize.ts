/**
 * The one authorisation function, for every door: the HTTP router asks it about each route's
 * action before the handler runs (REST on every listener, the WebSocket upgrade, /mcp), and the
 * sandbox service asks it about the sandbox, namespace and privileges of each request (which is
 * how MCP tools, WebSocket execs and REST calls get the same answer). Rights only ever narrow:
 * what a key may do comes from `RIGHTS` (rights.ts) and, for namespace keys, the namespace's
 * policy (privileges.ts); nothing here widens them. Every refusal is audited with what was asked.
 */
import { BkgError } from '../../api/errors.js';
import { DEFAULT_NAMESPACE_POLICY, type NamespacePolicy } from '../../api/policies.js';
import type { AuditLog } from '../../store/audit.js';
import type { Namespace, NamespacePolicyRepo, NamespaceRepo } from '../../store/repos/index.js';
import type { PeerRepository } from '../../store/repositories.js';
import type { Principal } from './api-keys.js';
import { missingPrivilege, type SandboxAsk } from './privileges.js';
import { allowed, KIND_LABEL, keyKind, RIGHTS, type Action, type KeyKind } from './rights.js';

export interface AuthorizerDeps {
  audit: AuditLog;
  namespaces: NamespaceRepo;
  policies: NamespacePolicyRepo;
  /** The P2P plugin's trusted peers (absent: no peer is trusted). */
  peers?: Pick<PeerRepository, 'get'>;
}

/** The sandboxes a key can see: null fields mean "any". */
export interface Scope {
  namespaceId: string | null;
  sandboxId: string | null;
}

/** What an event of the live stream is about, for deciding who receives it. */
export interface EventScope {
  /** The action a key must hold to receive it (sandbox events: sandbox.read; audit: audit.read; models: llm.manage). */
  action: Action;
  /** The namespace of the sandbox (or audit row) it is about; null: none. */
  namespaceId: string | null;
  sandboxId: string | null;
}

const KIND_HINT: Record<KeyKind, string> = {
  admin: '',
  namespace: 'This needs an admin key (the local socket, or a key made with `bkg key create NAME --role admin`).',
  readonly: 'Read-only keys only look; use a namespace or admin key to change anything.',
  sandbox: 'A sandbox\'s own key may run commands in it, read and write its files, and read its own status, changes and logs; nothing else. Use a namespace or admin key from outside the sandbox.',
};

export class Authorizer {
  constructor(private readonly d: AuthorizerDeps) {}

  /** May this key take `action` at all? FORBIDDEN (audited) when its kind of key may not. */
  require(p: Principal, action: Action, target: string | null = null): void {
    const kind = keyKind(p);
    if (allowed(kind, action)) return;
    this.deny(p, action, target, new BkgError('FORBIDDEN', `${KIND_LABEL[kind]} cannot ${RIGHTS[action].what}`, { hint: KIND_HINT[kind], details: { action } }));
  }

  can(p: Principal, action: Action): boolean {
    return allowed(keyKind(p), action);
  }

  scope(p: Principal): Scope {
    switch (keyKind(p)) {
      case 'admin':
        return { namespaceId: null, sandboxId: null };
      case 'sandbox':
        return { namespaceId: p.namespaceId, sandboxId: p.sandboxId };
      default:
        return { namespaceId: p.namespaceId, sandboxId: null };
    }
  }

  /** Whether the sandbox lies in what the key can see (outside it, callers answer NOT_FOUND, never FORBIDDEN). */
  sees(p: Principal, s: { id: string; namespaceId: string }): boolean {
    const scope = this.scope(p);
    return (scope.namespaceId === null || scope.namespaceId === s.namespaceId) && (scope.sandboxId === null || scope.sandboxId === s.id);
  }

  /**
   * May this key receive an event of the live stream (GET /api/v1/events)? Its kind of key must
   * hold the event's action, and what the event is about must lie in what the key sees: a namespace
   * key its namespace, a sandbox key its own sandbox. Not audited: a stream leaves out, silently and
   * for every subscriber alike, what a key may not see.
   */
  mayReceive(p: Principal, e: EventScope): boolean {
    if (!this.can(p, e.action)) return false;
    const scope = this.scope(p);
    return (scope.namespaceId === null || scope.namespaceId === e.namespaceId) && (scope.sandboxId === null || scope.sandboxId === e.sandboxId);
  }

  /**
   * The namespace a key acts in when it names `requested`: admins any (created on first use,
   * 'default' when none is named), every other key only its own (FORBIDDEN, audited, otherwise).
   */
  namespaceFor(p: Principal, action: Action, requested?: string): Namespace {
    if (keyKind(p) === 'admin') return this.d.namespaces.ensure(requested ?? 'default');
    const own = p.namespaceId === null ? null : this.d.namespaces.get(p.namespaceId);
    if (!own) return this.deny(p, action, requested ?? null, new BkgError('FORBIDDEN', 'this key is not bound to a namespace', { details: { action } }));
    if (requested !== undefined && requested !== own.name) {
      return this.deny(p, action, requested, new BkgError('FORBIDDEN', `this key may not act in namespace "${requested}" (its namespace is "${own.name}")`, { details: { action, namespace: requested } }));
    }
    return own;
  }

  /** The namespace's policy: its own, or the defaults. */
  policy(namespaceId: string): NamespacePolicy {
    return this.d.policies.get(namespaceId)?.policy ?? DEFAULT_NAMESPACE_POLICY;
  }

  /** Every privilege the sandbox would hold must be the key's: admins hold all, namespace keys what the policy grants. */
  requirePrivileges(p: Principal, action: Action, ns: Namespace, ask: SandboxAsk, target: string): void {
    if (keyKind(p) === 'admin') return;
    const missing = missingPrivilege(this.policy(ns.id), ask, ns.name);
    if (!missing) return;
    this.deny(p, action, target, new BkgError('FORBIDDEN', missing.message, {
      hint: `Ask an admin to grant it (\`bkg policy set ${ns.name} ${missing.grant}\`), or ask for less.`,
      details: { action, privilege: missing.privilege, namespace: ns.name, requested: missing.requested, allowed: missing.allowed },
    }), ns.id);
  }

  /**
   * The P2P door: may this libp2p peer connect and open our protocols? Only the peers of the
   * trusted table (`bkg peers add`); there is no key and no other way in.
   */
  trustsPeer(peerId: string): boolean {
    return this.d.peers?.get(peerId) != null;
  }

  /** Audit a refused peer (a connection or a stream of our protocol). */
  denyPeer(peerId: string, door: string): void {
    this.d.audit.append({ actor: `peer:${peerId}`, namespace: null, action: 'peer.connect', target: door, outcome: 'denied', details: { code: 'FORBIDDEN', reason: 'not a trusted peer' } });
  }

  /** Audit a refusal with what was asked for, then throw it. */
  deny(p: Principal, action: Action, target: string | null, err: BkgError, namespaceId: string | null = p.namespaceId): never {
    this.d.audit.append({ actor: p.id, namespace: namespaceId, action, target, outcome: 'denied', details: { code: err.code, ...err.details, ...(p.via === undefined ? {} : { via: p.via }) } });
    throw err;
  }
}
