/**
 * Which of a profile's rules apply on this host, decided as Docker and Podman decide it
 * (moby profiles/seccomp, containers/common pkg/seccomp) before anything is compiled:
 *
 *   excludes.arches   the host's architecture is listed           → the rule is dropped
 *   excludes.caps     the sandbox holds any listed capability     → dropped
 *   excludes.minKernel the running kernel is at least that version → dropped
 *   includes.arches   the host's architecture is not listed       → dropped
 *   includes.caps     the sandbox lacks any listed capability     → dropped
 *   includes.minKernel the running kernel is older than that       → dropped
 *
 * The architecture is x86_64, the only one bkg sandboxes run: it matches "amd64" (Go's name, which
 * Docker's and Podman's profiles use), "x86_64" and "SCMP_ARCH_X86_64". Rules only for "x86" or
 * "x32" do not apply: bkg kills 32-bit x86 calls and fails x32 calls whatever the profile says.
 * The capabilities are the sandbox's bounding set (KEPT_CAPABILITIES: CHOWN, DAC_OVERRIDE, FOWNER,
 * FSETID, KILL, SETGID, SETUID, NET_BIND_SERVICE, within its own user namespace), as Docker checks
 * the container's bounding set. The kernel version is uname's release.
 */
import { release } from 'node:os';
import { BkgError } from '../../api/errors.js';
import { KEPT_CAPABILITIES } from '../spec.js';
import { KERNEL_VERSION, type SeccompProfile, type SeccompRuleFilter, type SeccompSyscallRule } from './profile.js';

/** What includes / excludes are decided against. */
export interface SeccompHost {
  /** Names that stand for the host's architecture in a rule's `arches`. */
  readonly arches: readonly string[];
  /** Capabilities in the sandbox's bounding set. */
  readonly caps: readonly string[];
  /** The running kernel's release, e.g. "6.8.0-45-generic". */
  readonly kernel: string;
}

export const X86_64_ARCH_NAMES: readonly string[] = ['amd64', 'x86_64', 'SCMP_ARCH_X86_64'];

/** This host, as a sandbox started here sees it. */
export function seccompHost(overrides: Partial<SeccompHost> = {}): SeccompHost {
  return { arches: X86_64_ARCH_NAMES, caps: Object.keys(KEPT_CAPABILITIES), kernel: release(), ...overrides };
}

type Version = readonly [number, number, number];

function parseVersion(text: string, what: string): Version {
  // a release such as "6.8.0-45-generic" or "6.18.44-fc-v1045": its leading MAJOR.MINOR[.PATCH]
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) throw new BkgError('INTERNAL', `seccomp: cannot read a kernel version from ${what} "${text}"`);
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

function atLeast(kernel: Version, min: Version): boolean {
  for (let i = 0; i < 3; i++) {
    const a = kernel[i] ?? 0;
    const b = min[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

function kernelAtLeast(host: SeccompHost, minKernel: string): boolean {
  if (!KERNEL_VERSION.test(minKernel)) throw new BkgError('INVALID_SECCOMP_PROFILE', `seccomp profile: minKernel "${minKernel}" is not a kernel version`);
  return atLeast(parseVersion(host.kernel, 'the running kernel'), parseVersion(minKernel, 'minKernel'));
}

const archMatches = (host: SeccompHost, arches: readonly string[]): boolean => arches.some((a) => host.arches.includes(a));

/** Whether a rule applies on `host` (Docker's order: excludes, then includes). */
export function ruleApplies(rule: SeccompSyscallRule, host: SeccompHost): boolean {
  const ex: SeccompRuleFilter = rule.excludes ?? {};
  if (ex.arches && archMatches(host, ex.arches)) return false;
  if (ex.caps && ex.caps.some((c) => host.caps.includes(c))) return false;
  if (ex.minKernel !== undefined && kernelAtLeast(host, ex.minKernel)) return false;
  const inc: SeccompRuleFilter = rule.includes ?? {};
  if (inc.arches && !archMatches(host, inc.arches)) return false;
  if (inc.caps && !inc.caps.every((c) => host.caps.includes(c))) return false;
  if (inc.minKernel !== undefined && !kernelAtLeast(host, inc.minKernel)) return false;
  return true;
}

/**
 * The profile as it applies on `host`: the rules whose includes / excludes hold, stripped of them
 * (and of comments), in their order. Architectures, flags and listener fields change nothing in
 * the compiled program and are dropped.
 */
export function resolveSeccompProfile(profile: SeccompProfile, host: SeccompHost = seccompHost()): SeccompProfile {
  const syscalls = (profile.syscalls ?? []).filter((rule) => ruleApplies(rule, host)).map((rule): SeccompSyscallRule => ({
    names: rule.names,
    action: rule.action,
    ...(rule.errnoRet === undefined ? {} : { errnoRet: rule.errnoRet }),
    ...(rule.args === undefined ? {} : { args: rule.args }),
  }));
  return {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet === undefined ? {} : { defaultErrnoRet: profile.defaultErrnoRet }),
    ...(profile.syscalls === undefined ? {} : { syscalls }),
  };
}
