/** Shared helpers for the seccomp tests: run compiled filters and a straightforward reference model. */
import {
  AUDIT_ARCH_X86_64,
  CLONE_NAMESPACE_FLAGS,
  HARD_DENIED_SYSCALLS,
  NAMESPACE_SYSCALLS,
  SECCOMP_RET,
  SYSCALLS_X86_64,
  runSeccompFilter,
  type CompileSeccompOptions,
  type SeccompAction,
  type SeccompArg,
  type SeccompHost,
  type SeccompProfile,
  type SeccompSyscallRule,
} from '../../../src/runtime/seccomp/index.js';

export const ALLOW = SECCOMP_RET.ALLOW;
export const KILL_PROCESS = SECCOMP_RET.KILL_PROCESS;
export const errno = (n: number): number => (SECCOMP_RET.ERRNO | n) >>> 0;
export const EPERM = errno(1);
export const ENOSYS = errno(38);
export const X32_BIT = 0x40000000;

export function nr(name: string): number {
  const n = SYSCALLS_X86_64[name];
  if (n === undefined) throw new Error(`unknown syscall ${name}`);
  return n;
}

export type Args = readonly (bigint | number)[];

/** Verdict of `program` for syscall `call` (a name or number) on x86_64. */
export function verdict(program: Buffer, call: string | number, args: Args = [], arch = AUDIT_ARCH_X86_64): number {
  return runSeccompFilter(program, {
    nr: typeof call === 'number' ? call : nr(call),
    arch,
    args: args.map((a) => BigInt(a)),
  });
}

const U64 = (1n << 64n) - 1n;

function argMatches(arg: SeccompArg, value: bigint): boolean {
  const v = BigInt(arg.value);
  switch (arg.op) {
    case 'SCMP_CMP_EQ': return value === v;
    case 'SCMP_CMP_NE': return value !== v;
    case 'SCMP_CMP_LT': return value < v;
    case 'SCMP_CMP_LE': return value <= v;
    case 'SCMP_CMP_GT': return value > v;
    case 'SCMP_CMP_GE': return value >= v;
    case 'SCMP_CMP_MASKED_EQ': return (value & v) === BigInt(arg.valueTwo ?? 0);
  }
}

function actionValue(action: SeccompAction, errnoRet: number): number {
  switch (action) {
    case 'SCMP_ACT_ALLOW': return SECCOMP_RET.ALLOW;
    case 'SCMP_ACT_ERRNO': return errno(errnoRet);
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD': return 0;
    case 'SCMP_ACT_KILL_PROCESS': return SECCOMP_RET.KILL_PROCESS;
    case 'SCMP_ACT_TRAP': return SECCOMP_RET.TRAP;
    case 'SCMP_ACT_LOG': return SECCOMP_RET.LOG;
    case 'SCMP_ACT_TRACE': return ENOSYS; // no tracer can attach
  }
}

const NAMES_BY_NR = new Map(Object.entries(SYSCALLS_X86_64).map(([name, n]) => [n, name]));

function kernelAtLeast(kernel: string, min: string): boolean {
  const parts = (v: string): number[] => (/^(\d+)\.(\d+)(?:\.(\d+))?/.exec(v) ?? []).slice(1, 4).map((x) => Number(x ?? 0));
  const [a, b] = [parts(kernel), parts(min)];
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
}

/** Docker's includes / excludes, written plainly (moby profiles/seccomp setupSeccomp). */
function applies(rule: SeccompSyscallRule, host: SeccompHost): boolean {
  const inArch = (list: readonly string[]): boolean => list.some((a) => host.arches.includes(a));
  const ex = rule.excludes;
  if (ex?.arches && inArch(ex.arches)) return false;
  if (ex?.caps?.some((c) => host.caps.includes(c))) return false;
  if (ex?.minKernel !== undefined && kernelAtLeast(host.kernel, ex.minKernel)) return false;
  const inc = rule.includes;
  if (inc?.arches && !inArch(inc.arches)) return false;
  if (inc?.caps && !inc.caps.every((c) => host.caps.includes(c))) return false;
  if (inc?.minKernel !== undefined && !kernelAtLeast(host.kernel, inc.minKernel)) return false;
  return true;
}

/** The intended semantics, written plainly: what the compiled filter must agree with. */
export function referenceVerdict(
  profile: SeccompProfile,
  opts: CompileSeccompOptions,
  call: number,
  args: readonly bigint[] = [],
  arch = AUDIT_ARCH_X86_64,
): number {
  if (arch !== AUDIT_ARCH_X86_64) return KILL_PROCESS;
  if (call >= X32_BIT) return EPERM;
  const name = NAMES_BY_NR.get(call);
  const arg = (i: number): bigint => BigInt.asUintN(64, args[i] ?? 0n) & U64;
  if (name !== undefined) {
    if (HARD_DENIED_SYSCALLS.includes(name)) return EPERM;
    if (!opts.allowNestedNamespaces) {
      if (NAMESPACE_SYSCALLS.includes(name)) return EPERM;
      if (name === 'clone3') return ENOSYS;
      if (name === 'clone' && (Number(arg(0) & 0xffffffffn) & CLONE_NAMESPACE_FLAGS) !== 0) return EPERM;
    }
    for (const rule of profile.syscalls ?? []) {
      if (!rule.names.includes(name)) continue;
      if (opts.host && !applies(rule, opts.host)) continue;
      if ((rule.args ?? []).every((a) => argMatches(a, arg(a.index)))) {
        return actionValue(rule.action, rule.errnoRet ?? profile.defaultErrnoRet ?? 1);
      }
    }
  }
  return actionValue(profile.defaultAction, profile.defaultErrnoRet ?? 1);
}

/** A small deterministic PRNG (mulberry32) so fuzz tests are reproducible. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
