/** The rootless picture in one check: whose ids sandboxes get, and which limits a delegated cgroup subtree allows. */
import { CONTROLLERS, usableControllers } from '../cgroups.js';
import type { HostInfo } from '../host.js';
import { describeIdentity } from '../identity.js';
import type { DoctorCheck } from './probes.js';

export function checkRootless(host: HostInfo): DoctorCheck {
  const base = { id: 'rootless', title: 'Rootless' };
  const who = describeIdentity(host.identity);
  if (host.privileged) return { ...base, status: 'ok', detail: `not in use (${who})` };
  const usable = usableControllers(host.cgroups);
  const missing = CONTROLLERS.filter((c) => !usable.has(c));
  const limits = missing.length === 0 ? `limits enforced in a delegated cgroup subtree (${[...usable].join(', ')})` : `no delegated cgroup for ${missing.join(', ')}: sandboxes that need those limits are refused (see the cgroup checks)`;
  const sub = host.identity.subordinateMissing;
  const detail = `${who}; ${limits}`;
  if (sub) {
    return {
      ...base,
      status: 'warn',
      detail,
      fix: 'For more than one id inside sandboxes (package managers, chown): as root `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $USER` (pick a free range) and install newuidmap/newgidmap (Debian/Ubuntu: `apt-get install uidmap`).',
    };
  }
  return { ...base, status: missing.length ? 'warn' : 'ok', detail };
}
