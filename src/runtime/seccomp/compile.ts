/**
 * Compiles a seccomp profile (OCI, Docker or Podman format) into a classic BPF program for
 * seccomp(SECCOMP_SET_MODE_FILTER) on x86_64. The profile's includes / excludes are decided first,
 * against this host (resolve.ts). Layout:
 *
 *   1. arch != AUDIT_ARCH_X86_64              → KILL_PROCESS
 *   2. binary search over syscall-number ranges (nr >= 0x40000000, the x32 ABI, is one range:
 *      ERRNO(EPERM)); each leaf is either a RET or, for syscalls with argument conditions, a block
 *      that tries the rules in order:
 *        bkg's hard denies (always first, so a profile cannot re-allow them)
 *        the profile's rules for this syscall, first match wins
 *        the default action
 *
 * Conditional jumps only ever skip short, self-contained code; anything farther uses BPF_JA,
 * whose offset is 32 bits, so the program never needs a conditional jump beyond 255.
 */
import { BkgError } from '../../api/errors.js';
import {
  AUDIT_ARCH_X86_64,
  BPF_MAXINSNS,
  ENOSYS,
  EPERM,
  OP,
  SECCOMP_DATA,
  SECCOMP_RET,
  X32_SYSCALL_BIT,
  argOffset,
  encodeProgram,
  jump,
  stmt,
  type SockFilter,
} from './bpf.js';
import { CLONE_NAMESPACE_FLAGS, HARD_DENIED_SYSCALLS, NAMESPACE_SYSCALLS } from './hard-deny.js';
import { parseSeccompProfile, type SeccompAction, type SeccompArg, type SeccompOp, type SeccompProfile } from './profile.js';
import { resolveSeccompProfile, seccompHost, type SeccompHost } from './resolve.js';
import { SYSCALLS_X86_64 } from './syscalls-x86_64.js';

export { defaultSeccompProfile } from './default-profile.js';

export interface CompileSeccompOptions {
  /**
   * Leave unshare, setns, clone3 and namespace-creating clone to the profile instead of denying
   * them (for sandboxes that run container tooling inside).
   */
  readonly allowNestedNamespaces?: boolean;
  /** What includes / excludes are decided against; this host (seccompHost()) by default. */
  readonly host?: SeccompHost;
}

/** An argument condition in compiled form. */
type Condition =
  | { readonly kind: 'cmp'; readonly index: number; readonly op: SeccompOp; readonly value: bigint; readonly valueTwo: bigint }
  | { readonly kind: 'anyBitsLow'; readonly index: number; readonly mask: number };

/** One candidate rule for a syscall: it applies when every condition holds. */
interface Entry {
  readonly conditions: readonly Condition[];
  readonly ret: number;
}

/** A jump target inside a condition: a relative offset, the end of this condition, or "rule fails". */
type Target = number | 'next' | 'fail';
interface CondInsn {
  readonly code: number;
  readonly k: number;
  readonly jt: Target;
  readonly jf: Target;
}

/** What the filter does for a range of syscall numbers: straight-line code ending in RETs. */
interface Range {
  readonly start: number;
  readonly code: readonly SockFilter[];
  readonly key: string;
}

const MAX_JUMP = 255;

/** Look a syscall up by name, ignoring names unknown on x86_64 (and Object.prototype keys). */
export function syscallNumber(name: string): number | undefined {
  return Object.hasOwn(SYSCALLS_X86_64, name) ? SYSCALLS_X86_64[name] : undefined;
}

const errnoRet = (errno: number): number => (SECCOMP_RET.ERRNO | errno) >>> 0;

function actionValue(action: SeccompAction, errno: number): number {
  switch (action) {
    case 'SCMP_ACT_ALLOW':
      return SECCOMP_RET.ALLOW;
    case 'SCMP_ACT_ERRNO':
      return (SECCOMP_RET.ERRNO | (errno & SECCOMP_RET.DATA)) >>> 0;
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return SECCOMP_RET.KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS':
      return SECCOMP_RET.KILL_PROCESS;
    case 'SCMP_ACT_TRAP':
      return SECCOMP_RET.TRAP;
    case 'SCMP_ACT_LOG':
      return SECCOMP_RET.LOG;
    case 'SCMP_ACT_TRACE':
      // What the kernel answers to SECCOMP_RET_TRACE when no tracer is attached, and none can be:
      // ptrace is always denied inside, and a tracer outside must not be able to change the verdict.
      return errnoRet(ENOSYS);
  }
}

const ret = (value: number): SockFilter => stmt(OP.RET_K, value);

function hi32(v: bigint): number {
  return Number((v >> 32n) & 0xffffffffn);
}
function lo32(v: bigint): number {
  return Number(v & 0xffffffffn);
}

/** Code for one condition: falls through (or jumps to 'next') when it holds, jumps to 'fail' otherwise. */
function conditionCode(cond: Condition): CondInsn[] {
  const ld = (half: 'lo' | 'hi'): CondInsn => ({ code: OP.LD_W_ABS, k: argOffset(cond.index, half), jt: 0, jf: 0 });
  const j = (code: number, k: number, jt: Target, jf: Target): CondInsn => ({ code, k, jt, jf });
  if (cond.kind === 'anyBitsLow') {
    return [ld('lo'), j(OP.JSET_K, cond.mask, 'next', 'fail')];
  }
  const { op, value, valueTwo } = cond;
  const vhi = hi32(value);
  const vlo = lo32(value);
  switch (op) {
    case 'SCMP_CMP_EQ':
      return [ld('hi'), j(OP.JEQ_K, vhi, 0, 'fail'), ld('lo'), j(OP.JEQ_K, vlo, 'next', 'fail')];
    case 'SCMP_CMP_NE':
      return [ld('hi'), j(OP.JEQ_K, vhi, 0, 'next'), ld('lo'), j(OP.JEQ_K, vlo, 'fail', 'next')];
    // hi > vhi decides GT/GE; hi < vhi decides against; equal high words compare the low words.
    case 'SCMP_CMP_GT':
      return [ld('hi'), j(OP.JGT_K, vhi, 'next', 0), j(OP.JEQ_K, vhi, 0, 'fail'), ld('lo'), j(OP.JGT_K, vlo, 'next', 'fail')];
    case 'SCMP_CMP_GE':
      return [ld('hi'), j(OP.JGT_K, vhi, 'next', 0), j(OP.JEQ_K, vhi, 0, 'fail'), ld('lo'), j(OP.JGE_K, vlo, 'next', 'fail')];
    // LT is not GE; LE is not GT.
    case 'SCMP_CMP_LT':
      return [ld('hi'), j(OP.JGT_K, vhi, 'fail', 0), j(OP.JEQ_K, vhi, 0, 'next'), ld('lo'), j(OP.JGE_K, vlo, 'fail', 'next')];
    case 'SCMP_CMP_LE':
      return [ld('hi'), j(OP.JGT_K, vhi, 'fail', 0), j(OP.JEQ_K, vhi, 0, 'next'), ld('lo'), j(OP.JGT_K, vlo, 'fail', 'next')];
    case 'SCMP_CMP_MASKED_EQ': {
      const mhi = vhi;
      const mlo = vlo;
      const ehi = hi32(valueTwo);
      const elo = lo32(valueTwo);
      const and = (m: number): CondInsn => ({ code: OP.ALU_AND_K, k: m, jt: 0, jf: 0 });
      const low = [ld('lo'), and(mlo), j(OP.JEQ_K, elo, 'next', 'fail')];
      // (hi & 0) == 0 always holds: skip the high word when neither mask nor expected value use it.
      if (mhi === 0 && ehi === 0) return low;
      return [ld('hi'), and(mhi), j(OP.JEQ_K, ehi, 0, 'fail'), ...low];
    }
  }
}

/** Conditions, then RET; 'fail' lands just past the RET (the next entry, or the default). */
function entryCode(entry: Entry, syscall: string): SockFilter[] {
  const parts = entry.conditions.map(conditionCode);
  const total = parts.reduce((n, p) => n + p.length, 0) + 1;
  const out: SockFilter[] = [];
  for (const part of parts) {
    const start = out.length;
    const end = start + part.length;
    part.forEach((ins, i) => {
      const at = start + i;
      const resolve = (t: Target): number => (t === 'next' ? end - (at + 1) : t === 'fail' ? total - (at + 1) : t);
      const jt = resolve(ins.jt);
      const jf = resolve(ins.jf);
      if (jt > MAX_JUMP || jf > MAX_JUMP) {
        throw new BkgError('INVALID_SECCOMP_PROFILE', `seccomp profile: a rule for ${syscall} has too many argument conditions`);
      }
      out.push(jump(ins.code, ins.k, jt, jf));
    });
  }
  out.push(ret(entry.ret));
  return out;
}

/** The code for one syscall: its entries in order, then the default action if all are conditional. */
function syscallCode(entries: readonly Entry[], defaultRet: number, syscall: string): SockFilter[] {
  const out: SockFilter[] = [];
  for (const entry of entries) {
    out.push(...entryCode(entry, syscall));
    if (entry.conditions.length === 0) return out; // later entries can never match
  }
  out.push(ret(defaultRet));
  return out;
}

function toCondition(arg: SeccompArg): Condition {
  return { kind: 'cmp', index: arg.index, op: arg.op, value: BigInt(arg.value), valueTwo: BigInt(arg.valueTwo ?? 0) };
}

/** Every syscall that needs specific handling, with its entries in priority order. */
function collectEntries(profile: SeccompProfile, opts: CompileSeccompOptions): Map<number, { name: string; entries: Entry[] }> {
  const table = new Map<number, { name: string; entries: Entry[] }>();
  const add = (name: string, entry: Entry): void => {
    const nr = syscallNumber(name);
    if (nr === undefined) return;
    let slot = table.get(nr);
    if (!slot) {
      slot = { name, entries: [] };
      table.set(nr, slot);
    }
    slot.entries.push(entry);
  };
  const eperm = errnoRet(EPERM);

  for (const name of HARD_DENIED_SYSCALLS) add(name, { conditions: [], ret: eperm });
  if (!opts.allowNestedNamespaces) {
    for (const name of NAMESPACE_SYSCALLS) add(name, { conditions: [], ret: eperm });
    // clone3 passes its flags in memory seccomp cannot read; ENOSYS makes libc fall back to clone.
    add('clone3', { conditions: [], ret: errnoRet(ENOSYS) });
    add('clone', { conditions: [{ kind: 'anyBitsLow', index: 0, mask: CLONE_NAMESPACE_FLAGS }], ret: eperm });
  }

  for (const rule of profile.syscalls ?? []) {
    const errno = rule.errnoRet ?? profile.defaultErrnoRet ?? EPERM;
    const entry: Entry = { conditions: (rule.args ?? []).map(toCondition), ret: actionValue(rule.action, errno) };
    for (const name of new Set(rule.names)) add(name, entry);
  }
  return table;
}

/** Partition [0, 2^32) into ranges of syscall numbers that behave alike, merging neighbours. */
function buildRanges(table: Map<number, { name: string; entries: Entry[] }>, defaultRet: number): Range[] {
  const retRange = (start: number, value: number): Range => ({ start, code: [ret(value)], key: `ret:${value}` });
  const raw: Range[] = [];
  let next = 0;
  for (const nr of [...table.keys()].sort((a, b) => a - b)) {
    const slot = table.get(nr);
    if (!slot || nr >= X32_SYSCALL_BIT) continue;
    if (nr > next) raw.push(retRange(next, defaultRet));
    const code = syscallCode(slot.entries, defaultRet, slot.name);
    const only = code[0];
    raw.push(code.length === 1 && only ? retRange(nr, only.k) : { start: nr, code, key: `code:${encodeProgram(code).toString('hex')}` });
    next = nr + 1;
  }
  if (next < X32_SYSCALL_BIT) raw.push(retRange(next, defaultRet));
  raw.push(retRange(X32_SYSCALL_BIT, errnoRet(EPERM)));

  const merged: Range[] = [];
  for (const range of raw) {
    const prev = merged.at(-1);
    if (prev && prev.key === range.key) continue;
    merged.push(range);
  }
  return merged;
}

/**
 * Binary search over ranges[lo..hi] with the syscall number in A. Returns position-independent
 * code: every jump lands inside it and every path ends in a RET.
 */
function searchTree(ranges: readonly Range[], lo: number, hi: number): SockFilter[] {
  if (lo === hi) {
    const range = ranges[lo];
    if (!range) throw new BkgError('INTERNAL', 'seccomp compiler: range index out of bounds');
    return [...range.code];
  }
  const mid = (lo + hi + 1) >> 1;
  const pivot = ranges[mid];
  if (!pivot) throw new BkgError('INTERNAL', 'seccomp compiler: range index out of bounds');
  const left = searchTree(ranges, lo, mid - 1);
  const right = searchTree(ranges, mid, hi);
  if (left.length <= MAX_JUMP) {
    // nr >= pivot skips the left half; otherwise fall into it.
    return [jump(OP.JGE_K, pivot.start, left.length, 0), ...left, ...right];
  }
  // Too far for jt: jump to a BPF_JA (32-bit offset) instead.
  return [jump(OP.JGE_K, pivot.start, 0, 1), jump(OP.JA, left.length, 0, 0), ...left, ...right];
}

/**
 * Compile a profile into struct sock_filter records (little endian), ready for
 * seccomp(SECCOMP_SET_MODE_FILTER). bkg's hard denies are always applied first.
 */
export function compileSeccomp(profile: SeccompProfile, opts: CompileSeccompOptions = {}): Buffer {
  const checked = resolveSeccompProfile(parseSeccompProfile(profile), opts.host ?? seccompHost());
  const defaultRet = actionValue(checked.defaultAction, checked.defaultErrnoRet ?? EPERM);
  const ranges = buildRanges(collectEntries(checked, opts), defaultRet);

  const insns: SockFilter[] = [
    stmt(OP.LD_W_ABS, SECCOMP_DATA.ARCH),
    jump(OP.JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
    ret(SECCOMP_RET.KILL_PROCESS),
    stmt(OP.LD_W_ABS, SECCOMP_DATA.NR),
    ...searchTree(ranges, 0, ranges.length - 1),
  ];
  if (insns.length > BPF_MAXINSNS) {
    throw new BkgError(
      'INVALID_SECCOMP_PROFILE',
      `seccomp profile compiles to ${insns.length} BPF instructions, more than the kernel's limit of ${BPF_MAXINSNS}; merge rules or drop argument conditions`,
    );
  }
  return encodeProgram(insns);
}
