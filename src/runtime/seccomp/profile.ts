/**
 * OCI seccomp profiles (the "seccomp" object of an OCI runtime spec): types and a strict parser.
 * Every problem is reported as INVALID_SECCOMP_PROFILE with the path of the offending field.
 */
import { readFileSync } from 'node:fs';
import { BkgError } from '../../api/errors.js';

export const SECCOMP_ACTIONS = [
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_LOG',
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

/** Architecture names accepted in `architectures` (libseccomp / OCI spellings). */
export const SECCOMP_ARCHES = [
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

/** Largest errno the kernel honours in SECCOMP_RET_ERRNO (MAX_ERRNO). */
export const MAX_SECCOMP_ERRNO = 4095;
export const MAX_SYSCALL_ARG_INDEX = 5;
const U64_MAX = (1n << 64n) - 1n;

/** One comparison on a syscall argument. MASKED_EQ matches when (arg & value) == valueTwo. */
export interface SeccompArg {
  readonly index: number;
  /** A uint64; use a bigint for values above Number.MAX_SAFE_INTEGER. */
  readonly value: number | bigint;
  readonly valueTwo?: number | bigint;
  readonly op: SeccompOp;
}

export interface SeccompSyscallRule {
  /** Syscall names; names unknown on x86_64 are ignored (profiles list syscalls of many arches). */
  readonly names: readonly string[];
  readonly action: SeccompAction;
  /** Only with SCMP_ACT_ERRNO; defaults to the profile's defaultErrnoRet, then EPERM. */
  readonly errnoRet?: number;
  /** All conditions must hold for the rule to match. */
  readonly args?: readonly SeccompArg[];
  readonly comment?: string;
}

export interface SeccompProfile {
  readonly defaultAction: SeccompAction;
  readonly defaultErrnoRet?: number;
  readonly architectures?: readonly string[];
  /** Checked in order; for a given syscall the first matching rule wins. */
  readonly syscalls?: readonly SeccompSyscallRule[];
}

type Json = Record<string, unknown>;

function fail(field: string, problem: string): never {
  throw new BkgError('INVALID_SECCOMP_PROFILE', `seccomp profile: ${field} ${problem}`, { details: { field } });
}

function describe(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkKeys(obj: Json, path: string, allowed: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      const where = path === '' ? key : `${path}.${key}`;
      fail(where, `is not a supported field (supported: ${allowed.join(', ')})`);
    }
  }
}

function oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    fail(field, `must be one of ${allowed.join(', ')} (got ${describe(value)})`);
  }
  return value as T;
}

function errnoValue(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_SECCOMP_ERRNO) {
    fail(field, `must be an integer errno between 0 and ${MAX_SECCOMP_ERRNO} (got ${describe(value)})`);
  }
  return value;
}

function u64Value(value: unknown, field: string): number | bigint {
  if (typeof value === 'bigint') {
    if (value < 0n || value > U64_MAX) fail(field, `must be an unsigned 64-bit integer (got ${describe(value)})`);
    return value;
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    fail(field, `must be a non-negative integer (got ${describe(value)})`);
  }
  if (!Number.isSafeInteger(value)) {
    fail(field, `is too large to be represented exactly in JSON (above 2^53-1; got ${describe(value)})`);
  }
  return value;
}

function parseArg(raw: unknown, path: string): SeccompArg {
  if (!isObject(raw)) fail(path, `must be an object (got ${describe(raw)})`);
  checkKeys(raw, path, ['index', 'value', 'valueTwo', 'op']);
  const index = raw.index;
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > MAX_SYSCALL_ARG_INDEX) {
    fail(`${path}.index`, `must be an integer between 0 and ${MAX_SYSCALL_ARG_INDEX} (got ${describe(index)})`);
  }
  const op = oneOf(raw.op, `${path}.op`, SECCOMP_OPS);
  if (raw.value === undefined) fail(`${path}.value`, 'is required');
  const value = u64Value(raw.value, `${path}.value`);
  if (raw.valueTwo === undefined) return { index, value, op };
  const valueTwo = u64Value(raw.valueTwo, `${path}.valueTwo`);
  if (op !== 'SCMP_CMP_MASKED_EQ' && BigInt(valueTwo) !== 0n) {
    fail(`${path}.valueTwo`, `is only meaningful with SCMP_CMP_MASKED_EQ (op is ${op})`);
  }
  return { index, value, valueTwo, op };
}

function parseRule(raw: unknown, path: string): SeccompSyscallRule {
  if (!isObject(raw)) fail(path, `must be an object (got ${describe(raw)})`);
  checkKeys(raw, path, ['names', 'action', 'errnoRet', 'args', 'comment']);
  const names = raw.names;
  if (!Array.isArray(names)) fail(`${path}.names`, `must be an array of syscall names (got ${describe(names)})`);
  if (names.length === 0) fail(`${path}.names`, 'must list at least one syscall name');
  names.forEach((name: unknown, i) => {
    if (typeof name !== 'string' || !/^[A-Za-z0-9_]+$/.test(name)) {
      fail(`${path}.names[${i}]`, `must be a syscall name (got ${describe(name)})`);
    }
  });
  const action = oneOf(raw.action, `${path}.action`, SECCOMP_ACTIONS);
  const rule: { -readonly [K in keyof SeccompSyscallRule]: SeccompSyscallRule[K] } = { names: [...(names as string[])], action };
  if (raw.errnoRet !== undefined) {
    if (action !== 'SCMP_ACT_ERRNO') fail(`${path}.errnoRet`, `is only allowed with SCMP_ACT_ERRNO (action is ${action})`);
    rule.errnoRet = errnoValue(raw.errnoRet, `${path}.errnoRet`);
  }
  if (raw.args !== undefined) {
    if (!Array.isArray(raw.args)) fail(`${path}.args`, `must be an array (got ${describe(raw.args)})`);
    rule.args = raw.args.map((arg: unknown, i) => parseArg(arg, `${path}.args[${i}]`));
  }
  if (raw.comment !== undefined) {
    if (typeof raw.comment !== 'string') fail(`${path}.comment`, `must be a string (got ${describe(raw.comment)})`);
    rule.comment = raw.comment;
  }
  return rule;
}

/**
 * Validate an OCI seccomp profile (already JSON-parsed) and return a clean copy.
 * Throws BkgError('INVALID_SECCOMP_PROFILE') naming the first bad field.
 */
export function parseSeccompProfile(json: unknown): SeccompProfile {
  if (!isObject(json)) fail('profile', `must be a JSON object (got ${describe(json)})`);
  checkKeys(json, '', ['defaultAction', 'defaultErrnoRet', 'architectures', 'flags', 'syscalls']);
  const profile: { -readonly [K in keyof SeccompProfile]: SeccompProfile[K] } = {
    defaultAction: oneOf(json.defaultAction, 'defaultAction', SECCOMP_ACTIONS),
  };
  if (json.defaultErrnoRet !== undefined) profile.defaultErrnoRet = errnoValue(json.defaultErrnoRet, 'defaultErrnoRet');
  if (json.flags !== undefined && !(Array.isArray(json.flags) && json.flags.length === 0)) {
    fail('flags', `are not supported (the filter is always loaded without flags; got ${describe(json.flags)})`);
  }
  if (json.architectures !== undefined) {
    const arches = json.architectures;
    if (!Array.isArray(arches)) fail('architectures', `must be an array (got ${describe(arches)})`);
    arches.forEach((arch: unknown, i) => oneOf(arch, `architectures[${i}]`, SECCOMP_ARCHES));
    // An empty list means "the native architecture" in OCI, which is x86_64 here.
    if (arches.length > 0 && !arches.includes('SCMP_ARCH_X86_64')) {
      fail('architectures', `must include SCMP_ARCH_X86_64, the only architecture bkg sandboxes run (got ${describe(arches)})`);
    }
    profile.architectures = [...(arches as string[])];
  }
  if (json.syscalls !== undefined) {
    const rules = json.syscalls;
    if (!Array.isArray(rules)) fail('syscalls', `must be an array (got ${describe(rules)})`);
    profile.syscalls = rules.map((rule: unknown, i) => parseRule(rule, `syscalls[${i}]`));
  }
  return profile;
}

/** Read, JSON-parse and validate a profile file. Every failure is INVALID_SECCOMP_PROFILE. */
export function loadSeccompProfileFile(path: string): SeccompProfile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new BkgError('INVALID_SECCOMP_PROFILE', `cannot read seccomp profile ${path}: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new BkgError('INVALID_SECCOMP_PROFILE', `seccomp profile ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  try {
    return parseSeccompProfile(json);
  } catch (err) {
    if (err instanceof BkgError) {
      throw new BkgError(err.code, `${path}: ${err.message}`, { cause: err, ...(err.details ? { details: err.details } : {}) });
    }
    throw err;
  }
}
