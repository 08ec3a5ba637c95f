/** A sandbox's workspace changes (of the running sandbox, or in the files a stopped one kept): listed, and applied to the host directory if it has one. */
import type { Change } from '../../runtime/changes.js';
import { noHostWorkspace } from '../../runtime/definition.js';
import type { Principal } from '../auth/api-keys.js';
import { privilegesOf, type SandboxAccess } from './access.js';
import type { SandboxAudit } from './audit.js';
import type { PartDeps } from './deps.js';
import type { SavedFiles } from './saved-files.js';

export class SandboxWorkspace {
  constructor(
    private readonly d: Pick<PartDeps, 'engine' | 'authz'>,
    private readonly access: SandboxAccess,
    private readonly audit: SandboxAudit,
    private readonly files: SavedFiles,
  ) {}

  /** The workspace changes not yet applied. */
  async changes(p: Principal, idOrName: string): Promise<Change[]> {
    const s = this.access.find(p, idOrName);
    const scratch = this.files.scratchOf(s);
    return scratch ? this.d.engine.changesIn(scratch, s.workspace ?? undefined) : [];
  }

  async apply(p: Principal, idOrName: string): Promise<Change[]> {
    return this.audit.audited(p, 'sandbox.apply', idOrName, async () => {
      const s = this.access.find(p, idOrName, 'sandbox.apply');
      if (!s.workspace) throw noHostWorkspace(`sandbox "${s.name}"`);
      this.d.authz.requirePrivileges(p, 'sandbox.apply', this.access.namespaceOf(s), privilegesOf(s), s.name); // writing to the host directory
      const scratch = this.files.scratchOf(s);
      const applied = scratch ? await this.d.engine.applyFrom(scratch, s.workspace) : [];
      this.audit.ok(p, 'sandbox.apply', s, { changes: applied.length });
      return applied;
    });
  }
}
