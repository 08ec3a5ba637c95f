/** Map a helper setup failure (stage + errno) to the error registry. */
import { BkgError, type ErrorCode } from '../api/errors.js';
import type { ErrorEvent } from './helper-process.js';

const ENOENT = 2;
const ENOTDIR = 20;

export function helperFailure(ev: ErrorEvent): BkgError {
  let code: ErrorCode = 'HELPER_FAILED';
  let hint: string | undefined;
  switch (ev.stage) {
    case 'identity':
      code = 'ISOLATION_UNAVAILABLE';
      hint = 'The sandbox could not be given ids of its own: as root each sandbox locks a range under /run/bkg/ids; as an ordinary user newuidmap/newgidmap write your /etc/subuid and /etc/subgid ranges. Run `bkg doctor`.';
      break;
    case 'namespaces':
    case 'pivot_root':
    case 'mount':
    case 'network':
    case 'capabilities':
    case 'seccomp':
      code = 'ISOLATION_UNAVAILABLE';
      break;
    case 'cgroup':
      code = 'LIMIT_UNENFORCEABLE';
      break;
    case 'overlay':
      if (ev.errno === ENOENT || ev.errno === ENOTDIR) code = 'WORKSPACE_INVALID';
      else {
        code = 'ISOLATION_UNAVAILABLE';
        hint = 'The workspace overlay could not be mounted: the directory must be on a local filesystem (ext4, xfs, btrfs, tmpfs) and the kernel must support overlayfs in user namespaces (5.11+) and idmapped mounts (5.19+). Run `bkg doctor`.';
      }
      break;
    default:
      break;
  }
  return new BkgError(code, `sandbox setup failed (${ev.stage}): ${ev.message}`, { hint, details: { stage: ev.stage, errno: ev.errno } });
}
