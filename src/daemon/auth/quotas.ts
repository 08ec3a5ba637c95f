/**
 * Namespace quotas: how many sandboxes a namespace may have, and how many may run with how much
 * memory and how many pids between them. The count is checked in the same transaction as the
 * insert; starts are reserved synchronously before the (asynchronous) start, so neither can be
 * raced past. Sandboxes created or started with admin keys are never refused, but they count.
 */
import { BkgError } from '../../api/errors.js';
import type { NamespacePolicy, Quota } from '../../api/policies.js';
import type { Namespace, NamespaceUsageCounts, NewSandbox, Sandbox, SandboxRepo } from '../../store/repos/index.js';
import type { Principal } from './api-keys.js';
import type { Authorizer } from './authorize.js';
import { keyKind, type Action } from './rights.js';

const MiB = 1024 * 1024;

interface Pending {
  count: number;
  memoryBytes: number;
  pids: number;
}

export class Quotas {
  /** Starts in flight per namespace id: counted as running until they run or fail. */
  private readonly starting = new Map<string, Pending>();

  constructor(private readonly d: { sandboxes: SandboxRepo; authz: Authorizer }) {}

  /**
   * Record a new sandbox, refused past max_sandboxes: the count is checked inside the insert's
   * transaction (and the refusal audited after it rolled back).
   */
  insert(p: Principal, ns: Namespace, input: NewSandbox): Sandbox {
    if (keyKind(p) === 'admin') return this.d.sandboxes.insert(input);
    const policy = this.d.authz.policy(ns.id);
    try {
      return this.d.sandboxes.insert(input, (usage) => {
        if (policy.max_sandboxes !== null && usage.sandboxes + 1 > policy.max_sandboxes) {
          throw exceeded(ns, 'max_sandboxes', policy.max_sandboxes, usage.sandboxes, 'sandbox.create', `namespace "${ns.name}" already has ${usage.sandboxes} of its ${policy.max_sandboxes} sandboxes`);
        }
      });
    } catch (err) {
      if (err instanceof BkgError && err.code === 'QUOTA_EXCEEDED') this.d.authz.deny(p, 'sandbox.create', input.name, err, ns.id);
      throw err;
    }
  }

  /**
   * Reserve a start against max_running, max_total_memory_mb and max_total_pids; call the returned
   * function once the sandbox runs (it then counts as running in the store) or failed to start.
   */
  reserveStart(p: Principal, ns: Namespace, s: Sandbox): () => void {
    const want: Pending = { count: 1, memoryBytes: s.limits.memoryBytes ?? 0, pids: s.limits.pids ?? 0 };
    const pending = this.starting.get(ns.id) ?? { count: 0, memoryBytes: 0, pids: 0 };
    if (keyKind(p) !== 'admin') this.checkStart(p, ns, s, this.d.authz.policy(ns.id), this.d.sandboxes.usage(ns.id), pending, want);
    this.starting.set(ns.id, add(pending, want, 1));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = add(this.starting.get(ns.id) ?? pending, want, -1);
      if (left.count <= 0) this.starting.delete(ns.id);
      else this.starting.set(ns.id, left);
    };
  }

  private checkStart(p: Principal, ns: Namespace, s: Sandbox, policy: NamespacePolicy, usage: NamespaceUsageCounts, pending: Pending, want: Pending): void {
    const running = usage.running + pending.count;
    if (policy.max_running !== null && running + 1 > policy.max_running) {
      this.refuse(p, 'sandbox.start', s.name, ns, 'max_running', policy.max_running, running, `namespace "${ns.name}" already runs ${running} of its ${policy.max_running} running sandboxes`);
    }
    const memory = Math.ceil((usage.memoryBytes + pending.memoryBytes) / MiB);
    const more = Math.ceil(want.memoryBytes / MiB);
    if (policy.max_total_memory_mb !== null && memory + more > policy.max_total_memory_mb) {
      this.refuse(p, 'sandbox.start', s.name, ns, 'max_total_memory_mb', policy.max_total_memory_mb, memory,
        `starting "${s.name}" (${more} MiB) would bring namespace "${ns.name}"'s running sandboxes to ${memory + more} MiB of memory, above its ${policy.max_total_memory_mb} MiB`);
    }
    const pids = usage.pids + pending.pids;
    if (policy.max_total_pids !== null && pids + want.pids > policy.max_total_pids) {
      this.refuse(p, 'sandbox.start', s.name, ns, 'max_total_pids', policy.max_total_pids, pids,
        `starting "${s.name}" (${want.pids} pids) would bring namespace "${ns.name}"'s running sandboxes to ${pids + want.pids} pids, above its ${policy.max_total_pids}`);
    }
  }

  private refuse(p: Principal, action: Action, target: string, ns: Namespace, quota: Quota, limit: number, used: number, message: string): never {
    return this.d.authz.deny(p, action, target, exceeded(ns, quota, limit, used, action, message), ns.id);
  }
}

function exceeded(ns: Namespace, quota: Quota, limit: number, used: number, action: Action, message: string): BkgError {
  return new BkgError('QUOTA_EXCEEDED', `${message} (quota ${quota})`, {
    hint: `Delete or stop sandboxes of "${ns.name}" you no longer need (\`bkg ls\`, \`bkg rm NAME\`), or ask an admin to raise the quota (\`bkg policy set ${ns.name} --${quota.replace(/_/g, '-').replace(/-mb$/, '')} N\`).`,
    details: { action, quota, namespace: ns.name, limit, used },
  });
}

function add(a: Pending, b: Pending, sign: 1 | -1): Pending {
  return { count: a.count + sign * b.count, memoryBytes: a.memoryBytes + sign * b.memoryBytes, pids: a.pids + sign * b.pids };
}
