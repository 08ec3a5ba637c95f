export {
  SECCOMP_ACTIONS,
  SECCOMP_ARCHES,
  SECCOMP_FLAGS_ACCEPTED,
  SECCOMP_OPS,
  loadSeccompProfileFile,
  parseSeccompProfile,
  type SeccompAction,
  type SeccompArchMapEntry,
  type SeccompArg,
  type SeccompOp,
  type SeccompProfile,
  type SeccompRuleFilter,
  type SeccompSyscallRule,
} from './profile.js';
export { X86_64_ARCH_NAMES, resolveSeccompProfile, ruleApplies, seccompHost, type SeccompHost } from './resolve.js';
export { ERRNO_NUMBERS, errnoNumber } from './errno.js';
export { compileSeccomp, syscallNumber, type CompileSeccompOptions } from './compile.js';
export { defaultSeccompProfile, defaultSeccompProfilePath, sandboxSeccompProfile } from './default-profile.js';
export { runSeccompFilter, type SeccompDataInput } from './bpf-interpreter.js';
export { AUDIT_ARCH_X86_64, BPF_MAXINSNS, SECCOMP_RET, SOCK_FILTER_SIZE, decodeProgram, type SockFilter } from './bpf.js';
export { CLONE_NAMESPACE_FLAGS, HARD_DENIED_SYSCALLS, NAMESPACE_SYSCALLS } from './hard-deny.js';
export { SYSCALLS_X86_64 } from './syscalls-x86_64.js';
