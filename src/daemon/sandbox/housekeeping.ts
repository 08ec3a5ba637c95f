/** What the daemon does to sandboxes on its own: re-adopt running ones when it starts, stop expired ones. */
import type { Principal } from '../auth/api-keys.js';
import { handleOf, NO_RUNTIME_INFO } from './access.js';
import type { PartDeps } from './deps.js';
import type { SandboxLifecycle } from './lifecycle.js';

/** The daemon itself, for what it does on its own (expiry). */
const DAEMON: Principal = { id: 'daemon', name: 'daemon', role: 'admin', namespaceId: null, sandboxId: null };

export class SandboxHousekeeping {
  constructor(private readonly d: PartDeps, private readonly lifecycle: SandboxLifecycle) {}

  /**
   * At daemon start: re-adopt sandboxes whose helper is alive (the engine gets their definitions
   * again, built once here), mark the others stopped and remove the cgroups they left.
   */
  reconcile(): { adopted: string[]; stopped: string[] } {
    const adopted: string[] = [];
    const stopped: string[] = [];
    for (const s of this.d.sandboxes.list(null, { status: 'running' })) {
      const h = handleOf(s);
      if (h && this.d.engine.isRunning(h)) {
        try {
          this.d.engine.adopt(this.d.definitions.of(s), h);
        } catch (err) {
          this.d.log.warn({ err, id: s.id }, 'could not rebuild the definition of an adopted sandbox; its next exec tries again');
        }
        adopted.push(s.id);
        continue;
      }
      this.d.engine.cleanup(s.id, s.limits);
      this.d.sandboxes.setRuntimeInfo(s.id, NO_RUNTIME_INFO);
      const found = this.d.sandboxes.updateStatus(s.id, 'stopped');
      this.d.events?.sandbox('sandbox.stopped', found, 'daemon', { reason: 'its helper had ended when the daemon started' });
      this.d.audit.append({ actor: 'daemon', namespace: s.namespaceId, action: 'sandbox.reconcile', target: s.id, outcome: 'ok', details: { found: 'dead' } });
      stopped.push(s.id);
    }
    return { adopted, stopped };
  }

  /** Stop running sandboxes past their lifetime or idle deadline (their files saved, as on any stop). */
  async expire(): Promise<string[]> {
    const now = this.d.now();
    const done: string[] = [];
    for (const s of this.d.sandboxes.listExpired(now)) {
      if (s.status !== 'running') continue;
      const lifetime = s.expiresAt !== null && Date.parse(s.expiresAt) <= now.getTime();
      await this.lifecycle.stop(DAEMON, s.id, 'sandbox.expire', lifetime ? 'its lifetime ended' : 'it was idle for its idle timeout');
      done.push(s.id);
    }
    return done;
  }
}
