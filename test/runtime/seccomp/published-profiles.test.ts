/**
 * The seccomp profiles people actually hold — Docker's and Podman's defaults exactly as their
 * packages ship them (test/fixtures/seccomp/README.md) — parse, resolve their includes/excludes
 * for this host as Docker does, and compile to programs that agree with the plain reference
 * semantics for every x86_64 syscall and the argument values the profiles test.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BkgError } from '../../../src/api/errors.js';
import {
  BPF_MAXINSNS,
  SYSCALLS_X86_64,
  compileSeccomp,
  loadSeccompProfileFile,
  parseSeccompProfile,
  resolveSeccompProfile,
  seccompHost,
  type CompileSeccompOptions,
  type SeccompHost,
  type SeccompProfile,
} from '../../../src/runtime/seccomp/index.js';
import { ALLOW, ENOSYS, EPERM, errno, referenceVerdict, verdict, type Args } from './helpers.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'seccomp');
const FILES = readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort();
const raw = (file: string): Record<string, unknown> => JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')) as Record<string, unknown>;
const DOCKER = 'docker-26.1.5-default.json';
const PODMAN = 'podman-containers-common-0.62.2-seccomp.json';

/** A fixed host so that the expectations do not depend on the machine: x86_64, bkg's caps, kernel 6.8. */
const HOST: SeccompHost = seccompHost({ kernel: '6.8.0-45-generic' });
const withCaps = (...caps: string[]): SeccompHost => ({ ...HOST, caps: [...HOST.caps, ...caps] });

const CLONE_NEWUSER = 0x10000000;
const CLONE_NEWNS = 0x00020000;
const SIGCHLD = 17;
const AF_NETLINK = 16;
const AF_VSOCK = 40;
const NETLINK_AUDIT = 9;

function program(file: string, opts: CompileSeccompOptions = {}): Buffer {
  return compileSeccomp(parseSeccompProfile(raw(file)), { host: HOST, ...opts });
}

/** Every argument value a profile compares against, and its neighbours in both 32-bit words. */
function interestingValues(profile: SeccompProfile): bigint[] {
  const values = new Set<bigint>([0n, 1n, 0xffffffffn, 1n << 32n, (1n << 64n) - 1n, BigInt(SIGCHLD), BigInt(CLONE_NEWUSER | SIGCHLD)]);
  for (const rule of profile.syscalls ?? []) {
    for (const arg of rule.args ?? []) {
      for (const v of [BigInt(arg.value), BigInt(arg.valueTwo ?? 0)]) {
        for (const x of [v, v + 1n, v - 1n, v | (1n << 32n), v ^ 0x40000n]) values.add(BigInt.asUintN(64, x));
      }
    }
  }
  return [...values];
}

describe.each(FILES)('published profile %s', (file) => {
  it('loads, and parsing bkg\'s form again changes nothing', () => {
    const profile = loadSeccompProfileFile(join(FIXTURES, file));
    expect(profile.syscalls?.length).toBeGreaterThan(10);
    expect(parseSeccompProfile(JSON.parse(JSON.stringify(profile)))).toEqual(profile);
  });

  it('compiles well under the kernel\'s instruction limit, with and without nested namespaces', () => {
    for (const allowNestedNamespaces of [false, true]) {
      const insns = program(file, { allowNestedNamespaces }).length / 8;
      expect(insns).toBeLessThan(BPF_MAXINSNS / 2);
    }
  });

  it('agrees with the reference semantics for every syscall and every argument value it tests', () => {
    const profile = parseSeccompProfile(raw(file));
    const values = interestingValues(profile);
    const conditional = new Set(['clone', 'clone3', 'unshare', ...(profile.syscalls ?? []).filter((r) => r.args?.length).flatMap((r) => r.names)]);
    for (const host of [HOST, withCaps('CAP_SYS_ADMIN', 'CAP_AUDIT_WRITE', 'CAP_SYS_CHROOT', 'CAP_BPF')]) {
      for (const allowNestedNamespaces of [false, true]) {
        const opts = { allowNestedNamespaces, host };
        const prog = compileSeccomp(profile, opts);
        for (const [name, nr] of Object.entries(SYSCALLS_X86_64)) {
          const argSets: Args[] = [[], [0xffff_ffff_ffff_ffffn, 1n, 2n, 3n, 4n, 5n]];
          // every argument value the profile tests, in each position, for the calls with conditions
          if (conditional.has(name)) for (const index of [0, 1, 2]) for (const v of values) argSets.push(Array.from({ length: 6 }, (_, i) => (i === index ? v : 0n)));
          for (const args of argSets) {
            expect(verdict(prog, nr, args), `nr ${nr} args ${args.join(',')}`).toBe(referenceVerdict(profile, opts, nr, args.map(BigInt)));
          }
        }
      }
    }
  });

  it('names the path of a field the formats do not have', () => {
    const json = raw(file);
    const rules = json.syscalls as Record<string, unknown>[];
    const broken = { ...json, syscalls: rules.map((r, i) => (i === 3 ? { ...r, includes: { ...(r.includes as object), kernelVersion: '5.0' } } : r)) };
    expect(() => parseSeccompProfile(broken)).toThrow(
      expect.objectContaining({ code: 'INVALID_SECCOMP_PROFILE', details: { field: 'syscalls[3].includes.kernelVersion' } }),
    );
    expect(() => parseSeccompProfile({ ...json, seccompVersion: 2 })).toThrow(BkgError);
  });
});

describe(`Docker's default profile (${DOCKER})`, () => {
  const p = program(DOCKER);
  const nested = program(DOCKER, { allowNestedNamespaces: true });

  it('allows ordinary calls and denies the rest with EPERM (its defaultErrnoRet)', () => {
    for (const call of ['read', 'write', 'openat', 'execve', 'mmap', 'futex', 'rseq', 'statx', 'wait4', 'arch_prctl']) expect(verdict(p, call)).toBe(ALLOW);
    for (const call of ['sethostname', 'mseal', 'chroot', 'acct', 'syslog', 'migrate_pages']) expect(verdict(p, call)).toBe(EPERM);
  });

  it('allows personality only with the values it lists (a 64-bit EQ on both words)', () => {
    for (const v of [0, 8, 0x20000, 0x20008, 0xffffffff]) expect(verdict(p, 'personality', [v])).toBe(ALLOW);
    for (const v of [0x0040000, 0x1_0000_0000n, 0x1_ffff_ffffn, 9]) expect(verdict(p, 'personality', [v])).toBe(EPERM);
  });

  it('refuses AF_VSOCK sockets (SCMP_CMP_NE) and nothing else', () => {
    expect(verdict(p, 'socket', [AF_VSOCK, 1, 0])).toBe(EPERM);
    expect(verdict(p, 'socket', [2, 1, 0])).toBe(ALLOW);
    expect(verdict(p, 'socket', [AF_NETLINK, 3, NETLINK_AUDIT])).toBe(ALLOW);
  });

  it('decides clone by its MASKED_EQ rule once bkg leaves namespaces to the profile', () => {
    expect(verdict(nested, 'clone', [SIGCHLD])).toBe(ALLOW);
    expect(verdict(nested, 'clone', [0x3d0f00])).toBe(ALLOW); // pthread_create's flags
    expect(verdict(nested, 'clone', [CLONE_NEWUSER | SIGCHLD])).toBe(EPERM);
    expect(verdict(nested, 'clone', [CLONE_NEWNS | SIGCHLD])).toBe(EPERM);
    // the mask covers only the low word: high bits of the register do not matter
    expect(verdict(nested, 'clone', [(1n << 40n) | BigInt(SIGCHLD)])).toBe(ALLOW);
    expect(verdict(nested, 'unshare', [CLONE_NEWUSER])).toBe(EPERM);
    expect(verdict(nested, 'clone3')).toBe(ENOSYS); // its errnoRet 38
  });

  it('applies the CAP_SYS_ADMIN rules only to a sandbox that holds the capability', () => {
    const admin = compileSeccomp(parseSeccompProfile(raw(DOCKER)), { host: withCaps('CAP_SYS_ADMIN'), allowNestedNamespaces: true });
    expect(verdict(admin, 'unshare', [CLONE_NEWUSER])).toBe(ALLOW);
    expect(verdict(admin, 'clone', [CLONE_NEWUSER | SIGCHLD])).toBe(ALLOW);
    expect(verdict(admin, 'sethostname')).toBe(ALLOW);
    expect(verdict(admin, 'clone3')).toBe(ALLOW); // the ENOSYS rule excludes CAP_SYS_ADMIN
    expect(verdict(admin, 'mount')).toBe(EPERM); // bkg's hard denies still come first
  });

  it('selects rules by architecture, capability and kernel version as Docker does', () => {
    const profile = parseSeccompProfile(raw(DOCKER));
    const names = (host: SeccompHost): string[] => (resolveSeccompProfile(profile, host).syscalls ?? []).map((r) => r.names.join(','));
    const here = names(HOST);
    expect(here).toContain('arch_prctl'); // includes arches amd64, x32
    expect(here).toContain('modify_ldt');
    expect(here).not.toContain('riscv_flush_icache');
    expect(here).not.toContain('s390_pci_mmio_read,s390_pci_mmio_write,s390_runtime_instr');
    expect(here).toContain('clone'); // the MASKED_EQ rule, which excludes s390
    expect(here.filter((n) => n === 'clone')).toHaveLength(1);
    expect(here).toContain('process_vm_readv,process_vm_writev,ptrace'); // includes minKernel 4.8
    expect(names({ ...HOST, kernel: '4.4.0-210-generic' })).not.toContain('process_vm_readv,process_vm_writev,ptrace');
    expect(names({ ...HOST, kernel: '4.8.0' })).toContain('process_vm_readv,process_vm_writev,ptrace');
    expect(here.some((n) => n.startsWith('bpf,clone,clone3'))).toBe(false); // includes caps CAP_SYS_ADMIN
    expect(names(withCaps('CAP_SYS_ADMIN')).some((n) => n.startsWith('bpf,clone,clone3'))).toBe(true);
    expect(names(withCaps('CAP_SYS_ADMIN'))).not.toContain('clone3'); // excludes caps CAP_SYS_ADMIN
    const s390 = names({ ...HOST, arches: ['s390x'] });
    expect(s390).toContain('s390_pci_mmio_read,s390_pci_mmio_write,s390_runtime_instr');
    expect(s390).not.toContain('arch_prctl');
  });
});

describe(`Podman's default profile (${PODMAN})`, () => {
  const p = program(PODMAN);
  const nested = program(PODMAN, { allowNestedNamespaces: true });

  it('answers unknown calls with ENOSYS (defaultErrnoRet 38) and its listed denials with their errnoRet', () => {
    expect(verdict(p, 'mseal')).toBe(ENOSYS);
    expect(verdict(p, 'tuxcall')).toBe(ENOSYS);
    for (const call of ['vmsplice', 'move_pages', 'sethostname', 'chroot', 'acct', 'open_by_handle_at']) expect(verdict(p, call)).toBe(EPERM);
    for (const call of ['read', 'openat', 'execve', 'arch_prctl', 'getsid']) expect(verdict(p, call)).toBe(ALLOW);
  });

  it('answers audit netlink sockets with EINVAL (two conditions, errnoRet 22) unless CAP_AUDIT_WRITE is held', () => {
    expect(verdict(p, 'socket', [AF_NETLINK, 3, NETLINK_AUDIT])).toBe(errno(22));
    expect(verdict(p, 'socket', [AF_NETLINK, 3, 0])).toBe(ALLOW);
    expect(verdict(p, 'socket', [2, 1, NETLINK_AUDIT])).toBe(ALLOW);
    expect(verdict(p, 'socket', [AF_VSOCK, 1, 0])).toBe(ALLOW);
    const audit = compileSeccomp(parseSeccompProfile(raw(PODMAN)), { host: withCaps('CAP_AUDIT_WRITE') });
    expect(verdict(audit, 'socket', [AF_NETLINK, 3, NETLINK_AUDIT])).toBe(ALLOW);
  });

  it('leaves unshare and clone to its own allow rules when nested namespaces are allowed, and bkg denies them otherwise', () => {
    expect(verdict(nested, 'unshare', [CLONE_NEWUSER])).toBe(ALLOW);
    expect(verdict(nested, 'clone', [CLONE_NEWUSER | SIGCHLD])).toBe(ALLOW);
    expect(verdict(p, 'unshare', [CLONE_NEWUSER])).toBe(EPERM);
    expect(verdict(p, 'clone', [CLONE_NEWUSER | SIGCHLD])).toBe(EPERM);
    expect(verdict(p, 'clone3')).toBe(ENOSYS);
    expect(verdict(nested, 'mount')).toBe(EPERM);
  });
});

describe('published profiles in older formats', () => {
  it('reads Podman\'s errno names (containers-common 0.50.1) as the numbers they stand for', () => {
    const profile = parseSeccompProfile(raw('podman-containers-common-0.50.1-seccomp.json'));
    expect(profile.defaultErrnoRet).toBe(38);
    expect(profile.syscalls?.find((r) => r.names.includes('socket') && r.action === 'SCMP_ACT_ERRNO')?.errnoRet).toBe(22);
  });

  it('reads Docker\'s one-name-per-rule format, with architectures instead of archMap', () => {
    const profile = parseSeccompProfile(raw('docker-26.1.5-default-old-format.json'));
    expect(profile.syscalls?.every((r) => r.names.length === 1)).toBe(true);
    expect(profile.architectures).toContain('SCMP_ARCH_X86_64');
    expect(verdict(compileSeccomp(profile, { host: HOST }), 'read')).toBe(ALLOW);
  });

  it('keeps Docker 20.10\'s clone3 ENOSYS rule on x86_64 (its excludes name only MIPS arches)', () => {
    const prog = program('docker-20.10.24-default.json', { allowNestedNamespaces: true });
    expect(verdict(prog, 'clone3')).toBe(ENOSYS);
    expect(verdict(prog, 'clone', [CLONE_NEWUSER | SIGCHLD])).toBe(EPERM);
  });
});
