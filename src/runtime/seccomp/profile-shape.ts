/**
 * The shape of a seccomp profile as bkg holds it after parsing (profile.ts parses and checks the
 * JSON users give; compile.ts and resolve.ts read this): the actions, comparison operators,
 * architectures and filter flags a profile may name, the limits on its numbers, and the types of a
 * profile, its rules and their conditions.
 */
export const SECCOMP_ACTIONS = [
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_LOG',
  // No tracer can attach to a sandbox (ptrace is always denied): behaves as the kernel does then, ENOSYS.
  'SCMP_ACT_TRACE',
] as const;
export type SeccompAction = (typeof SECCOMP_ACTIONS)[number];

export const SECCOMP_OPS = [
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
] as const;
export type SeccompOp = (typeof SECCOMP_OPS)[number];

/** Architecture names accepted in `architectures` and `archMap` (libseccomp / OCI spellings). */
export const SECCOMP_ARCHES = [
  'SCMP_ARCH_NATIVE',
  'SCMP_ARCH_X86',
  'SCMP_ARCH_X86_64',
  'SCMP_ARCH_X32',
  'SCMP_ARCH_ARM',
  'SCMP_ARCH_AARCH64',
  'SCMP_ARCH_LOONGARCH64',
  'SCMP_ARCH_M68K',
  'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64',
  'SCMP_ARCH_MIPS64N32',
  'SCMP_ARCH_MIPSEL',
  'SCMP_ARCH_MIPSEL64',
  'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC',
  'SCMP_ARCH_PPC64',
  'SCMP_ARCH_PPC64LE',
  'SCMP_ARCH_S390',
  'SCMP_ARCH_S390X',
  'SCMP_ARCH_PARISC',
  'SCMP_ARCH_PARISC64',
  'SCMP_ARCH_RISCV64',
  'SCMP_ARCH_SH',
  'SCMP_ARCH_SHEB',
] as const;

/**
 * OCI filter flags. TSYNC changes nothing here (the helper installs the filter in a single-threaded
 * process right before exec) and WAIT_KILLABLE_RECV only concerns SCMP_ACT_NOTIFY, which bkg refuses;
 * the others are refused with a reason.
 */
export const SECCOMP_FLAGS_ACCEPTED = ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'] as const;

/** Largest errno the kernel honours in SECCOMP_RET_ERRNO (MAX_ERRNO). */
export const MAX_SECCOMP_ERRNO = 4095;
export const MAX_SYSCALL_ARG_INDEX = 5;

/** One comparison on a syscall argument. MASKED_EQ matches when (arg & value) == valueTwo. */
export interface SeccompArg {
  readonly index: number;
  /** A uint64; use a bigint for values above Number.MAX_SAFE_INTEGER. */
  readonly value: number | bigint;
  readonly valueTwo?: number | bigint;
  readonly op: SeccompOp;
}

/**
 * When a rule applies (Docker's and containers/common's `includes` / `excludes`): `arches` against
 * the host's architecture (Go names such as "amd64", as Docker writes them), `caps` against the
 * capabilities the sandbox holds, `minKernel` ("MAJOR.MINOR") against the running kernel.
 */
export interface SeccompRuleFilter {
  readonly arches?: readonly string[];
  readonly caps?: readonly string[];
  readonly minKernel?: string;
}

export interface SeccompSyscallRule {
  /** Syscall names; names unknown on x86_64 are ignored (profiles list syscalls of many arches). */
  readonly names: readonly string[];
  readonly action: SeccompAction;
  /** Only with SCMP_ACT_ERRNO (and SCMP_ACT_TRACE, where it is moot); defaults to the profile's defaultErrnoRet, then EPERM. */
  readonly errnoRet?: number;
  /** All conditions must hold for the rule to match. */
  readonly args?: readonly SeccompArg[];
  readonly comment?: string;
  /** The rule applies only where all of these hold. */
  readonly includes?: SeccompRuleFilter;
  /** The rule does not apply where any of these holds. */
  readonly excludes?: SeccompRuleFilter;
}

/** Docker's `archMap` entry: an architecture and the sub-architectures its filter also covers. */
export interface SeccompArchMapEntry {
  readonly architecture: string;
  readonly subArchitectures?: readonly string[];
}

export interface SeccompProfile {
  readonly defaultAction: SeccompAction;
  readonly defaultErrnoRet?: number;
  readonly architectures?: readonly string[];
  readonly archMap?: readonly SeccompArchMapEntry[];
  /** Only flags that change nothing here are accepted (SECCOMP_FLAGS_ACCEPTED). */
  readonly flags?: readonly string[];
  /** Accepted and unused: they only matter to SCMP_ACT_NOTIFY, which bkg refuses. */
  readonly listenerPath?: string;
  readonly listenerMetadata?: string;
  /** Checked in order; for a given syscall the first applicable, matching rule wins. */
  readonly syscalls?: readonly SeccompSyscallRule[];
}
