/**
 * Seccomp profiles as users hold them: the OCI runtime spec's "seccomp" object plus the extensions
 * of Docker's and Podman's (containers/common) profile files — `archMap`, `name`, `comment`,
 * `includes` / `excludes` (arches, caps, minKernel) and containers/common's errno names — with a
 * strict parser. Every problem is reported as INVALID_SECCOMP_PROFILE with the path of the
 * offending field. The parser keeps includes/excludes: which rules apply depends on the host the
 * sandbox runs on, and is decided when the profile is compiled there (resolve.ts). What a parsed
 * profile is (its types, and the names and numbers it may use) is profile-shape.ts.
 */
import { readFileSync } from 'node:fs';
import { BkgError } from '../../api/errors.js';
import { errnoNumber } from './errno.js';
import { MAX_SECCOMP_ERRNO, MAX_SYSCALL_ARG_INDEX, SECCOMP_ACTIONS, SECCOMP_ARCHES, SECCOMP_FLAGS_ACCEPTED, SECCOMP_OPS, type SeccompAction, type SeccompArchMapEntry, type SeccompArg, type SeccompProfile, type SeccompRuleFilter, type SeccompSyscallRule } from './profile-shape.js';

// the shape, where importers of the profile have always found it
export { SECCOMP_ACTIONS, SECCOMP_OPS, SECCOMP_ARCHES, SECCOMP_FLAGS_ACCEPTED, MAX_SECCOMP_ERRNO, MAX_SYSCALL_ARG_INDEX } from './profile-shape.js';
export type { SeccompAction, SeccompOp, SeccompArg, SeccompRuleFilter, SeccompSyscallRule, SeccompArchMapEntry, SeccompProfile } from './profile-shape.js';

const SECCOMP_FLAGS_REFUSED: Readonly<Record<string, string>> = {
  SECCOMP_FILTER_FLAG_LOG: 'is not supported (bkg loads the filter without flags; use SCMP_ACT_LOG in rules to log calls)',
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 'is not supported (bkg keeps the speculative store bypass mitigation on)',
  SECCOMP_FILTER_FLAG_NEW_LISTENER: 'is not supported (bkg runs no seccomp agent)',
};
const U64_MAX = (1n << 64n) - 1n;

type Json = Record<string, unknown>;
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

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

/** JSON null stands for "absent", as it does for the Go decoders (Docker, Podman, runc) these files are written for. */
function present(value: unknown): boolean {
  return value !== undefined && value !== null;
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

function action(value: unknown, field: string): SeccompAction {
  if (value === 'SCMP_ACT_NOTIFY') {
    fail(field, 'SCMP_ACT_NOTIFY is not supported (it needs a seccomp agent on the host; bkg runs none)');
  }
  return oneOf(value, field, SECCOMP_ACTIONS);
}

function errnoValue(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_SECCOMP_ERRNO) {
    fail(field, `must be an integer errno between 0 and ${MAX_SECCOMP_ERRNO} (got ${describe(value)})`);
  }
  return value;
}

/** containers/common's errno by name ("EPERM"), which must agree with the number when both are given. */
function errnoByName(value: unknown, field: string, numeric: number | undefined, numericField: string): number {
  const n = typeof value === 'string' ? errnoNumber(value) : undefined;
  if (n === undefined) fail(field, `must be a Linux errno name such as "EPERM" or "ENOSYS" (got ${describe(value)})`);
  if (numeric !== undefined && numeric !== n) fail(field, `is ${String(value)} (${n}) but ${numericField} is ${numeric}`);
  return n;
}

function stringValue(value: unknown, field: string): string {
  if (typeof value !== 'string') fail(field, `must be a string (got ${describe(value)})`);
  return value;
}

function stringList(value: unknown, field: string, check: (s: string) => boolean, what: string): string[] {
  if (!Array.isArray(value)) fail(field, `must be an array of ${what} (got ${describe(value)})`);
  return value.map((item: unknown, i) => {
    if (typeof item !== 'string' || !check(item)) fail(`${field}[${i}]`, `must be ${what.replace(/s$/, '')} (got ${describe(item)})`);
    return item;
  });
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
  if (!present(raw.value)) fail(`${path}.value`, 'is required');
  const value = u64Value(raw.value, `${path}.value`);
  if (!present(raw.valueTwo)) return { index, value, op };
  const valueTwo = u64Value(raw.valueTwo, `${path}.valueTwo`);
  if (op !== 'SCMP_CMP_MASKED_EQ' && BigInt(valueTwo) !== 0n) {
    fail(`${path}.valueTwo`, `is only meaningful with SCMP_CMP_MASKED_EQ (op is ${op})`);
  }
  return { index, value, valueTwo, op };
}

const SYSCALL_NAME = /^[A-Za-z0-9_]+$/;
const ARCH_NAME = /^[A-Za-z0-9_]+$/;
const CAP_NAME = /^CAP_[A-Z0-9_]+$/;
/** Docker's spelling, "MAJOR.MINOR"; a patch level is accepted too. */
export const KERNEL_VERSION = /^(\d+)\.(\d+)(?:\.(\d+))?$/;

/** An includes / excludes object; undefined when it sets no condition. */
function parseFilter(raw: unknown, path: string): SeccompRuleFilter | undefined {
  if (!present(raw)) return undefined;
  if (!isObject(raw)) fail(path, `must be an object (got ${describe(raw)})`);
  checkKeys(raw, path, ['arches', 'caps', 'minKernel']);
  const filter: Mutable<SeccompRuleFilter> = {};
  if (present(raw.arches)) {
    const arches = stringList(raw.arches, `${path}.arches`, (s) => ARCH_NAME.test(s), 'architecture names');
    if (arches.length > 0) filter.arches = arches;
  }
  if (present(raw.caps)) {
    const caps = stringList(raw.caps, `${path}.caps`, (s) => CAP_NAME.test(s), 'capability names (CAP_...)');
    if (caps.length > 0) filter.caps = caps;
  }
  if (present(raw.minKernel)) {
    const v = raw.minKernel;
    if (typeof v !== 'string' || !KERNEL_VERSION.test(v)) fail(`${path}.minKernel`, `must be a kernel version such as "4.8" (got ${describe(v)})`);
    filter.minKernel = v;
  }
  return Object.keys(filter).length > 0 ? filter : undefined;
}

function parseRule(raw: unknown, path: string): SeccompSyscallRule {
  if (!isObject(raw)) fail(path, `must be an object (got ${describe(raw)})`);
  checkKeys(raw, path, ['names', 'name', 'action', 'errnoRet', 'errno', 'args', 'comment', 'includes', 'excludes']);
  const names: string[] = [];
  if (present(raw.names)) {
    const list = raw.names;
    if (!Array.isArray(list)) fail(`${path}.names`, `must be an array of syscall names (got ${describe(list)})`);
    list.forEach((name: unknown, i) => {
      if (typeof name !== 'string' || !SYSCALL_NAME.test(name)) fail(`${path}.names[${i}]`, `must be a syscall name (got ${describe(name)})`);
      names.push(name);
    });
  }
  if (present(raw.name) && raw.name !== '') {
    // Docker's singular spelling; like Docker, not together with names
    if (names.length > 0) fail(`${path}.name`, 'cannot be combined with names (use one of them)');
    if (typeof raw.name !== 'string' || !SYSCALL_NAME.test(raw.name)) fail(`${path}.name`, `must be a syscall name (got ${describe(raw.name)})`);
    names.push(raw.name);
  }
  if (names.length === 0) fail(`${path}.names`, 'must list at least one syscall name');
  const act = action(raw.action, `${path}.action`);
  const rule: Mutable<SeccompSyscallRule> = { names, action: act };
  const withErrno = act === 'SCMP_ACT_ERRNO' || act === 'SCMP_ACT_TRACE';
  if (present(raw.errnoRet)) {
    if (!withErrno) fail(`${path}.errnoRet`, `is only allowed with SCMP_ACT_ERRNO (action is ${act})`);
    rule.errnoRet = errnoValue(raw.errnoRet, `${path}.errnoRet`);
  }
  if (present(raw.errno) && raw.errno !== '') {
    if (!withErrno) fail(`${path}.errno`, `is only allowed with SCMP_ACT_ERRNO (action is ${act})`);
    rule.errnoRet = errnoByName(raw.errno, `${path}.errno`, rule.errnoRet, `${path}.errnoRet`);
  }
  if (present(raw.args)) {
    if (!Array.isArray(raw.args)) fail(`${path}.args`, `must be an array (got ${describe(raw.args)})`);
    rule.args = raw.args.map((arg: unknown, i) => parseArg(arg, `${path}.args[${i}]`));
  }
  if (present(raw.comment)) rule.comment = stringValue(raw.comment, `${path}.comment`);
  const includes = parseFilter(raw.includes, `${path}.includes`);
  if (includes) rule.includes = includes;
  const excludes = parseFilter(raw.excludes, `${path}.excludes`);
  if (excludes) rule.excludes = excludes;
  return rule;
}

function parseArchMap(raw: unknown): SeccompArchMapEntry[] {
  if (!Array.isArray(raw)) fail('archMap', `must be an array (got ${describe(raw)})`);
  return raw.map((entry: unknown, i) => {
    const path = `archMap[${i}]`;
    if (!isObject(entry)) fail(path, `must be an object (got ${describe(entry)})`);
    checkKeys(entry, path, ['architecture', 'subArchitectures']);
    const out: Mutable<SeccompArchMapEntry> = { architecture: oneOf(entry.architecture, `${path}.architecture`, SECCOMP_ARCHES) };
    if (present(entry.subArchitectures)) {
      const subs = entry.subArchitectures;
      if (!Array.isArray(subs)) fail(`${path}.subArchitectures`, `must be an array (got ${describe(subs)})`);
      out.subArchitectures = subs.map((a: unknown, j) => oneOf(a, `${path}.subArchitectures[${j}]`, SECCOMP_ARCHES));
    }
    return out;
  });
}

function parseFlags(raw: unknown): string[] {
  if (!Array.isArray(raw)) fail('flags', `must be an array (got ${describe(raw)})`);
  return raw.map((flag: unknown, i) => {
    const field = `flags[${i}]`;
    if (typeof flag === 'string' && Object.hasOwn(SECCOMP_FLAGS_REFUSED, flag)) fail(field, `${flag} ${SECCOMP_FLAGS_REFUSED[flag]}`);
    return oneOf(flag, field, SECCOMP_FLAGS_ACCEPTED);
  });
}

/**
 * Validate a seccomp profile (already JSON-parsed; OCI, Docker or Podman format) and return a clean
 * copy in bkg's form (`name` folded into `names`, errno names into numbers, empty filters dropped).
 * Parsing the result again returns an equal profile. Throws BkgError('INVALID_SECCOMP_PROFILE')
 * naming the first bad field.
 */
export function parseSeccompProfile(json: unknown): SeccompProfile {
  if (!isObject(json)) fail('profile', `must be a JSON object (got ${describe(json)})`);
  checkKeys(json, '', [
    'defaultAction', 'defaultErrnoRet', 'defaultErrno', 'architectures', 'archMap', 'flags', 'listenerPath', 'listenerMetadata', 'syscalls',
  ]);
  const profile: Mutable<SeccompProfile> = { defaultAction: action(json.defaultAction, 'defaultAction') };
  if (present(json.defaultErrnoRet)) profile.defaultErrnoRet = errnoValue(json.defaultErrnoRet, 'defaultErrnoRet');
  if (present(json.defaultErrno) && json.defaultErrno !== '') {
    profile.defaultErrnoRet = errnoByName(json.defaultErrno, 'defaultErrno', profile.defaultErrnoRet, 'defaultErrnoRet');
  }
  if (present(json.architectures)) {
    const arches = json.architectures;
    if (!Array.isArray(arches)) fail('architectures', `must be an array (got ${describe(arches)})`);
    arches.forEach((arch: unknown, i) => oneOf(arch, `architectures[${i}]`, SECCOMP_ARCHES));
    // An empty list means "the native architecture" in OCI, which is x86_64 here.
    if (arches.length > 0 && !arches.includes('SCMP_ARCH_X86_64') && !arches.includes('SCMP_ARCH_NATIVE')) {
      fail('architectures', `must include SCMP_ARCH_X86_64, the only architecture bkg sandboxes run (got ${describe(arches)})`);
    }
    profile.architectures = [...(arches as string[])];
  }
  if (present(json.archMap)) {
    const archMap = parseArchMap(json.archMap);
    // Docker and Podman refuse both at once: which of them would apply is ambiguous
    if (archMap.length > 0 && (profile.architectures?.length ?? 0) > 0) fail('archMap', 'cannot be combined with architectures (use one of them)');
    profile.archMap = archMap;
  }
  if (present(json.flags)) {
    const flags = parseFlags(json.flags);
    if (flags.length > 0) profile.flags = flags;
  }
  if (present(json.listenerPath)) profile.listenerPath = stringValue(json.listenerPath, 'listenerPath');
  if (present(json.listenerMetadata)) profile.listenerMetadata = stringValue(json.listenerMetadata, 'listenerMetadata');
  if (present(json.syscalls)) {
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
