/** bkg's bundled default seccomp profile (templates/seccomp/default.json). */
import { BkgError } from '../../api/errors.js';
import { defaultSeccompProfilePath } from './default-path.js';
import { NAMESPACE_SYSCALLS } from './hard-deny.js';
import { loadSeccompProfileFile, type SeccompProfile } from './profile.js';

export { defaultSeccompProfilePath } from './default-path.js';

/** Load and validate the bundled default profile (read afresh on every call). */
export function defaultSeccompProfile(): SeccompProfile {
  try {
    return loadSeccompProfileFile(defaultSeccompProfilePath());
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new BkgError('INTERNAL', `bkg's bundled default seccomp profile is unusable: ${message}`, { cause: err });
  }
}

/**
 * The profile a sandbox runs under: its own (custom), or bkg's default — which, when the sandbox
 * may create nested namespaces, also allows unshare and setns (bkg stops denying them and
 * namespace-creating clone flags; a custom profile decides about them itself).
 */
export function sandboxSeccompProfile(custom: SeccompProfile | undefined, allowNestedNamespaces: boolean): SeccompProfile {
  if (custom) return custom;
  const base = defaultSeccompProfile();
  if (!allowNestedNamespaces) return base;
  return { ...base, syscalls: [...(base.syscalls ?? []), { names: [...NAMESPACE_SYSCALLS], action: 'SCMP_ACT_ALLOW' }] };
}
