import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BPF_MAXINSNS,
  HARD_DENIED_SYSCALLS,
  SOCK_FILTER_SIZE,
  SYSCALLS_X86_64,
  compileSeccomp,
  decodeProgram,
  defaultSeccompProfile,
  defaultSeccompProfilePath,
  sandboxSeccompProfile,
} from '../../../src/runtime/seccomp/index.js';
import { ALLOW, ENOSYS, EPERM, errno, referenceVerdict, verdict } from './helpers.js';

const profile = defaultSeccompProfile();
const program = compileSeccomp(profile);
const nested = compileSeccomp(profile, { allowNestedNamespaces: true });

describe('default seccomp profile', () => {
  it('is bundled under templates/seccomp', () => {
    expect(defaultSeccompProfilePath()).toMatch(/templates\/seccomp\/default\.json$/);
    expect(existsSync(defaultSeccompProfilePath())).toBe(true);
  });

  it('is an allowlist: ERRNO(EPERM) by default', () => {
    expect(profile.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(profile.defaultErrnoRet).toBe(1);
  });

  it('names only syscalls that exist on x86_64 (no typos)', () => {
    const names = (profile.syscalls ?? []).flatMap((r) => r.names);
    expect(names.filter((n) => SYSCALLS_X86_64[n] === undefined)).toEqual([]);
  });

  it('does not allow by itself what bkg hard-denies or the namespace calls', () => {
    const allowed = (profile.syscalls ?? []).filter((r) => r.action === 'SCMP_ACT_ALLOW').flatMap((r) => r.names);
    expect(allowed.filter((n) => HARD_DENIED_SYSCALLS.includes(n))).toEqual([]);
    expect(allowed).not.toContain('unshare');
    expect(allowed).not.toContain('setns');
    expect(allowed).not.toContain('clone3');
    expect(allowed).toContain('clone');
  });

  it(`compiles well under the kernel's ${BPF_MAXINSNS}-instruction limit`, () => {
    const size = program.length / SOCK_FILTER_SIZE;
    console.log(`default seccomp program: ${size} instructions (nested namespaces: ${nested.length / SOCK_FILTER_SIZE})`);
    expect(size).toBeLessThan(BPF_MAXINSNS);
    expect(nested.length / SOCK_FILTER_SIZE).toBeLessThan(BPF_MAXINSNS);
  });

  it.each([
    'read', 'write', 'openat', 'close', 'execve', 'exit_group', 'mmap', 'mprotect', 'brk', 'futex', 'rt_sigaction',
    'fstat', 'newfstatat', 'statx', 'getdents64', 'pipe2', 'dup3', 'wait4', 'getrandom', 'connect', 'accept4',
    'epoll_wait', 'prlimit64', 'rseq', 'set_robust_list', 'arch_prctl', 'uname', 'getcwd', 'fork', 'vfork',
  ])('allows %s', (name) => {
    expect(verdict(program, name, [3, 0, 0])).toBe(ALLOW);
  });

  it.each(['reboot', 'mount', 'ptrace', 'bpf', 'unshare', 'setns', 'kexec_load', 'io_uring_setup', 'chroot', 'pidfd_getfd', 'kcmp'])(
    'denies %s with EPERM',
    (name) => {
      expect(verdict(program, name)).toBe(EPERM);
    },
  );

  it('allows fork-style clone but not namespace clone, and answers clone3 with ENOSYS', () => {
    expect(verdict(program, 'clone', [0x01200011])).toBe(ALLOW);
    expect(verdict(program, 'clone', [0x003d0f00])).toBe(ALLOW);
    expect(verdict(program, 'clone', [0x10000000 | 0x11])).toBe(EPERM);
    expect(verdict(program, 'clone3')).toBe(ENOSYS);
    // Nested namespaces still need a profile that allows them; clone3 stays ENOSYS so libc falls back.
    expect(verdict(nested, 'clone3')).toBe(ENOSYS);
    expect(verdict(nested, 'unshare', [0x10000000])).toBe(EPERM);
    expect(verdict(nested, 'clone', [0x10000000 | 0x11])).toBe(ALLOW);
  });

  it('with nested namespaces, the default profile also allows unshare and setns; a custom profile decides itself', () => {
    const withNs = compileSeccomp(sandboxSeccompProfile(undefined, true), { allowNestedNamespaces: true });
    expect(verdict(withNs, 'unshare', [0x10000000])).toBe(ALLOW);
    expect(verdict(withNs, 'setns', [3, 0])).toBe(ALLOW);
    expect(verdict(withNs, 'clone3')).toBe(ENOSYS);
    expect(verdict(withNs, 'mount')).toBe(EPERM);
    expect(verdict(compileSeccomp(sandboxSeccompProfile(undefined, false)), 'unshare', [0x10000000])).toBe(EPERM);
    expect(sandboxSeccompProfile(profile, true)).toBe(profile);
  });

  it('allows personality only for the values Docker allows', () => {
    for (const value of [0x0, 0x8, 0x20000, 0x20008, 0xffffffff]) expect(verdict(program, 'personality', [value])).toBe(ALLOW);
    for (const value of [0x0040000 /* ADDR_NO_RANDOMIZE */, 0x1, 0x20001, 0x1_0000_0000n, 0x1_0000_0008n, 0xffff_ffff_ffff_ffffn]) {
      expect(verdict(program, 'personality', [value])).toBe(EPERM);
    }
  });

  it('denies TIOCSTI and TIOCLINUX however the upper bits are set, and allows other ioctls', () => {
    expect(verdict(program, 'ioctl', [0, 0x5412])).toBe(EPERM);
    expect(verdict(program, 'ioctl', [0, 0x1_0000_5412n])).toBe(EPERM);
    expect(verdict(program, 'ioctl', [0, 0x541c])).toBe(EPERM);
    expect(verdict(program, 'ioctl', [0, 0x5401 /* TCGETS */])).toBe(ALLOW);
    expect(verdict(program, 'ioctl', [0, 0x5413 /* TIOCGWINSZ */])).toBe(ALLOW);
  });

  it('allows sockets of ordinary families but not AF_VSOCK', () => {
    for (const family of [1, 2, 10, 16]) expect(verdict(program, 'socket', [family, 1, 0])).toBe(ALLOW);
    expect(verdict(program, 'socket', [40, 1, 0])).toBe(errno(97));
    expect(verdict(program, 'socket', [0x1_0000_0028n, 1, 0])).toBe(errno(97));
  });

  it('agrees with the reference semantics for every syscall number', () => {
    for (const opts of [{}, { allowNestedNamespaces: true }]) {
      const compiled = compileSeccomp(profile, opts);
      for (let call = 0; call < 520; call++) {
        for (const args of [[], [0x01200011n, 0x5412n], [0x10000011n, 0x541cn], [40n, 0n], [0xffffffffn]]) {
          expect(verdict(compiled, call, args), `nr ${call}`).toBe(referenceVerdict(profile, opts, call, args));
        }
      }
    }
  });

  it('reaches every verdict within a few dozen instructions (binary search, not a linear scan)', () => {
    const insns = decodeProgram(program);
    // Jumps only go forward, so the longest path is a simple backwards dynamic program.
    const longest = new Array<number>(insns.length + 1).fill(0);
    for (let pc = insns.length - 1; pc >= 0; pc--) {
      const ins = insns[pc];
      if (!ins) continue;
      const cls = ins.code & 0x07;
      const next = cls === 0x06 ? [] : cls !== 0x05 ? [pc + 1] : ins.code === 0x05 ? [pc + 1 + ins.k] : [pc + 1 + ins.jt, pc + 1 + ins.jf];
      longest[pc] = 1 + Math.max(0, ...next.map((n) => longest[n] ?? 0));
    }
    console.log(`default seccomp program: longest path ${longest[0]} instructions`);
    expect(longest[0]).toBeLessThan(48);
  });
});
