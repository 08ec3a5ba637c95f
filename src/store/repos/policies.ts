/** Namespace policies: the privileges and quotas of one namespace (absent: the built-in defaults apply). */
import type { NamespacePolicy } from '../../api/policies.js';
import type { Db } from '../db.js';
import type { NamespacePolicyRepository } from '../repositories.js';
import type { StoredPolicy } from '../types.js';

export type { StoredPolicy } from '../types.js';

interface Row {
  namespace_id: string;
  networks_json: string;
  workspace_roots_json: string;
  allow_nested_namespaces: number;
  allow_custom_seccomp: number;
  max_memory_mb: number | null;
  max_cpus: number | null;
  max_pids: number | null;
  max_disk_mb: number | null;
  max_sandboxes: number | null;
  max_running: number | null;
  max_total_memory_mb: number | null;
  max_total_pids: number | null;
  updated_at: string;
  updated_by: string;
}

function toStored(r: Row): StoredPolicy {
  return {
    namespaceId: r.namespace_id,
    policy: {
      networks: JSON.parse(r.networks_json) as NamespacePolicy['networks'],
      workspace_roots: JSON.parse(r.workspace_roots_json) as string[],
      allow_nested_namespaces: r.allow_nested_namespaces === 1,
      allow_custom_seccomp: r.allow_custom_seccomp === 1,
      max_memory_mb: r.max_memory_mb,
      max_cpus: r.max_cpus,
      max_pids: r.max_pids,
      max_disk_mb: r.max_disk_mb,
      max_sandboxes: r.max_sandboxes,
      max_running: r.max_running,
      max_total_memory_mb: r.max_total_memory_mb,
      max_total_pids: r.max_total_pids,
    },
    updatedAt: r.updated_at,
    updatedBy: r.updated_by,
  };
}

export class NamespacePolicyRepo implements NamespacePolicyRepository {
  private readonly getStmt;
  private readonly listStmt;
  private readonly upsertStmt;
  private readonly deleteStmt;

  constructor(db: Db, private readonly now: () => Date = () => new Date()) {
    this.getStmt = db.prepare('SELECT * FROM policies WHERE namespace_id = ?');
    this.listStmt = db.prepare('SELECT * FROM policies ORDER BY namespace_id');
    this.upsertStmt = db.prepare(
      `INSERT INTO policies (namespace_id, networks_json, workspace_roots_json, allow_nested_namespaces, allow_custom_seccomp, max_memory_mb, max_cpus,
         max_pids, max_disk_mb, max_sandboxes, max_running, max_total_memory_mb, max_total_pids, updated_at, updated_by)
       VALUES (@namespace_id, @networks_json, @workspace_roots_json, @allow_nested_namespaces, @allow_custom_seccomp, @max_memory_mb, @max_cpus,
         @max_pids, @max_disk_mb, @max_sandboxes, @max_running, @max_total_memory_mb, @max_total_pids, @updated_at, @updated_by)
       ON CONFLICT (namespace_id) DO UPDATE SET networks_json = excluded.networks_json, workspace_roots_json = excluded.workspace_roots_json,
         allow_nested_namespaces = excluded.allow_nested_namespaces, allow_custom_seccomp = excluded.allow_custom_seccomp,
         max_memory_mb = excluded.max_memory_mb, max_cpus = excluded.max_cpus, max_pids = excluded.max_pids, max_disk_mb = excluded.max_disk_mb,
         max_sandboxes = excluded.max_sandboxes, max_running = excluded.max_running, max_total_memory_mb = excluded.max_total_memory_mb,
         max_total_pids = excluded.max_total_pids, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
    );
    this.deleteStmt = db.prepare('DELETE FROM policies WHERE namespace_id = ?');
  }

  /** The namespace's own policy; null when it has none (the defaults apply). */
  get(namespaceId: string): StoredPolicy | null {
    const r = this.getStmt.get(namespaceId) as Row | undefined;
    return r ? toStored(r) : null;
  }

  list(): StoredPolicy[] {
    return (this.listStmt.all() as Row[]).map(toStored);
  }

  /** Replace the namespace's policy as a whole. */
  set(namespaceId: string, policy: NamespacePolicy, updatedBy: string): StoredPolicy {
    const row: Row = {
      namespace_id: namespaceId,
      networks_json: JSON.stringify(policy.networks),
      workspace_roots_json: JSON.stringify(policy.workspace_roots),
      allow_nested_namespaces: policy.allow_nested_namespaces ? 1 : 0,
      allow_custom_seccomp: policy.allow_custom_seccomp ? 1 : 0,
      max_memory_mb: policy.max_memory_mb,
      max_cpus: policy.max_cpus,
      max_pids: policy.max_pids,
      max_disk_mb: policy.max_disk_mb,
      max_sandboxes: policy.max_sandboxes,
      max_running: policy.max_running,
      max_total_memory_mb: policy.max_total_memory_mb,
      max_total_pids: policy.max_total_pids,
      updated_at: this.now().toISOString(),
      updated_by: updatedBy,
    };
    this.upsertStmt.run(row);
    return toStored(row);
  }

  /** Back to the defaults. False when the namespace had no policy of its own. */
  delete(namespaceId: string): boolean {
    return this.deleteStmt.run(namespaceId).changes > 0;
  }
}
