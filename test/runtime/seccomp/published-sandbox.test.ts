/**
 * Docker's and Podman's published default profiles, and profiles using their includes/excludes
 * and argument conditions, in real sandboxes through the real helper: ordinary commands run, the
 * calls the profiles refuse fail with the errno they name, and `bkg run --rm --seccomp FILE`
 * takes the files as they are.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { newSandboxId, type SandboxDefinition } from '../../../src/runtime/definition.js';
import { withDefaults } from '../../../src/runtime/limits.js';
import { loadSeccompProfileFile, type SeccompProfile, type SeccompSyscallRule } from '../../../src/runtime/seccomp/index.js';
import { bkg } from '../../helpers/cli.js';
import { makeRuntime, sandboxSkipReason, type Captured } from '../../helpers/sandbox.js';

const skip = sandboxSkipReason();
const { runtime } = makeRuntime();

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'seccomp');
const DOCKER_FILE = join(FIXTURES, 'docker-26.1.5-default.json');
const PODMAN_FILE = join(FIXTURES, 'podman-containers-common-0.62.2-seccomp.json');

/** Makes raw syscalls ([name, [nr, ...args]], hex strings for wide values) and prints {name: 0 or errno} as one JSON line. */
const PROBE = String.raw`
import ctypes, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
out = {}
for name, call in json.loads(sys.argv[1]):
    ctypes.set_errno(0)
    r = libc.syscall(*[ctypes.c_long(int(a, 16) if isinstance(a, str) else a) for a in call])
    if name.startswith('clone') and r == 0:
        os._exit(0)
    if r > 0 and name.startswith('clone'):
        os.waitpid(r, 0)
    out[name] = 0 if r >= 0 else ctypes.get_errno()
print(json.dumps(out))
`;

type Calls = [string, (number | string)[]][];

async function run(argv: string[], seccomp: SeccompProfile | undefined, opts: { nested?: boolean } = {}): Promise<Captured> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const def: SandboxDefinition = {
    id: newSandboxId(),
    argv,
    limits: withDefaults({}),
    network: 'none',
    ...(opts.nested ? { allowNestedNamespaces: true } : {}),
  };
  const r = await runtime.run(def, { stdio: ['ignore', 'pipe', 'pipe'], onStdout: (c) => out.push(c), onStderr: (c) => err.push(c) }, seccomp ? { seccomp } : {});
  return { ...r, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/** Runs the calls inside a sandbox under `seccomp`. */
async function probe(seccomp: SeccompProfile, calls: Calls, opts: { nested?: boolean } = {}): Promise<Record<string, number>> {
  const r = await run(['/usr/bin/python3', '-c', PROBE, JSON.stringify(calls)], seccomp, opts);
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, number>;
}

const NR = {
  clone: 56, clone3: 435, unshare: 272, personality: 135, socket: 41, mseal: 462, vmsplice: 278,
  sethostname: 170, getsid: 124, getpgid: 121, getpriority: 140,
};
const CLONE_NEWUSER = 0x10000000;
const SIGCHLD = 17;
const EPERM = 1;
const ESRCH = 3;
const EINVAL = 22;
const ENOSYS = 38;

const ORDINARY = 'ls / >/dev/null && echo ls-ok; echo "$(( 6 * 7 ))"; python3 -c "import threading, subprocess; t = threading.Thread(target=print, args=(\'thread-ok\',)); t.start(); t.join(); print(subprocess.run([\'sh\', \'-c\', \'echo child-ok\'], capture_output=True, text=True).stdout.strip())"; cat /etc/os-release >/dev/null && echo cat-ok';

describe.skipIf(skip)('published seccomp profiles in real sandboxes', () => {
  const docker = loadSeccompProfileFile(DOCKER_FILE);
  const podman = loadSeccompProfileFile(PODMAN_FILE);

  it.each([
    ['Docker', docker],
    ['Podman', podman],
  ])('%s\'s profile runs ordinary commands (sh, ls, python3 with threads and a child)', async (_name, profile) => {
    const r = await run(['/bin/sh', '-c', ORDINARY], profile);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual(['ls-ok', '42', 'thread-ok', 'child-ok', 'cat-ok', '']);
    expect(r.exitCode).toBe(0);
  });

  it('Docker\'s profile refuses what it refuses, with EPERM', async () => {
    const out = await probe(docker, [
      ['personality_query', [NR.personality, 0xffffffff]],
      ['personality_norandom', [NR.personality, 0x0040000]],
      ['socket_vsock', [NR.socket, 40, 1, 0]],
      ['mseal', [NR.mseal, 0, 0, 0]], // not in the profile: its default, EPERM (the kernel would say 0)
      ['vmsplice', [NR.vmsplice, -1, 0, 0, 0]], // allowed: the kernel's own EBADF
      ['clone3', [NR.clone3, 0, 0]],
      ['unshare', [NR.unshare, CLONE_NEWUSER]],
    ]);
    expect(out).toEqual({
      personality_query: 0, personality_norandom: EPERM, socket_vsock: EPERM, mseal: EPERM, vmsplice: 9, clone3: ENOSYS, unshare: EPERM,
    });
  });

  it('Docker\'s profile decides namespace clones by its MASKED_EQ rule once nested namespaces are allowed', async () => {
    const out = await probe(docker, [
      ['clone_fork', [NR.clone, SIGCHLD, 0, 0, 0, 0]],
      ['clone_newuser', [NR.clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0]],
      ['unshare', [NR.unshare, CLONE_NEWUSER]], // needs CAP_SYS_ADMIN in Docker's profile
      ['clone3', [NR.clone3, 0, 0]], // its errnoRet 38
    ], { nested: true });
    expect(out).toEqual({ clone_fork: 0, clone_newuser: EPERM, unshare: EPERM, clone3: ENOSYS });
  });

  it('Podman\'s profile answers with its own errnos: ENOSYS by default, EPERM and EINVAL where it says so', async () => {
    const out = await probe(podman, [
      ['mseal', [NR.mseal, 0, 0, 0]], // not in the profile: defaultErrnoRet 38
      ['vmsplice', [NR.vmsplice, -1, 0, 0, 0]], // listed with errnoRet 1
      ['sethostname', [NR.sethostname, 0, 0]],
      ['socket_audit', [NR.socket, 16, 3, 9]], // AF_NETLINK, NETLINK_AUDIT: errnoRet 22 without CAP_AUDIT_WRITE
      ['personality_norandom', [NR.personality, 0x0040000]], // matches none of its personality rules: the default
      ['unshare', [NR.unshare, CLONE_NEWUSER]], // bkg's own deny: nested namespaces are off
    ]);
    expect(out).toEqual({ mseal: ENOSYS, vmsplice: EPERM, sethostname: EPERM, socket_audit: EINVAL, personality_norandom: ENOSYS, unshare: EPERM });
    // with nested namespaces bkg leaves unshare to the profile, which allows it
    expect(await probe(podman, [['unshare', [NR.unshare, CLONE_NEWUSER]]], { nested: true })).toEqual({ unshare: 0 });
  });

  it('selects rules by arches, caps and minKernel against this host and this sandbox', async () => {
    // one rule per case on getpgid(1000 + i): errno 100 + i where the rule applies, else the kernel's ESRCH
    const cases: [SeccompSyscallRule['includes'] | undefined, SeccompSyscallRule['excludes'] | undefined, boolean][] = [
      [{ arches: ['amd64'] }, undefined, true],
      [{ arches: ['x86_64'] }, undefined, true],
      [{ arches: ['SCMP_ARCH_X86_64', 'arm64'] }, undefined, true],
      [{ arches: ['arm64', 's390x'] }, undefined, false],
      [{ arches: ['x86', 'x32'] }, undefined, false],
      [undefined, { arches: ['amd64'] }, false],
      [undefined, { arches: ['arm64'] }, true],
      [{ caps: ['CAP_CHOWN'] }, undefined, true], // in the sandbox's bounding set
      [{ caps: ['CAP_CHOWN', 'CAP_SYS_ADMIN'] }, undefined, false], // all must be held
      [undefined, { caps: ['CAP_SYS_ADMIN'] }, true],
      [undefined, { caps: ['CAP_SYS_ADMIN', 'CAP_KILL'] }, false], // any held excludes
      [{ minKernel: '3.0' }, undefined, true],
      [{ minKernel: '999.0' }, undefined, false],
      [undefined, { minKernel: '999.0' }, true],
      [undefined, { minKernel: '3.0' }, false],
      [{ arches: ['amd64'], caps: ['CAP_NET_BIND_SERVICE'], minKernel: '4.8' }, { caps: ['CAP_SYS_MODULE'] }, true],
    ];
    const rules: SeccompSyscallRule[] = cases.map(([includes, excludes], i) => ({
      names: ['getpgid'], action: 'SCMP_ACT_ERRNO', errnoRet: 100 + i, args: [{ index: 0, value: 1000 + i, op: 'SCMP_CMP_EQ' }],
      ...(includes ? { includes } : {}), ...(excludes ? { excludes } : {}),
    }));
    const profile: SeccompProfile = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: rules };
    const out = await probe(profile, cases.map((_, i) => [`case${i}`, [NR.getpgid, 1000 + i]]));
    expect(out).toEqual(Object.fromEntries(cases.map(([, , applies], i) => [`case${i}`, applies ? 100 + i : ESRCH])));
  });

  it('compiles argument conditions on both 32-bit halves (MASKED_EQ, GT), errnoRet defaults and TRACE', async () => {
    const profile: SeccompProfile = {
      defaultAction: 'SCMP_ACT_ALLOW',
      defaultErrnoRet: 77,
      syscalls: [
        { names: ['getsid'], action: 'SCMP_ACT_ERRNO', errnoRet: 81, args: [{ index: 0, value: 0x1_0000_00ff, valueTwo: 0x1_0000_0042, op: 'SCMP_CMP_MASKED_EQ' }] },
        { names: ['getpriority'], action: 'SCMP_ACT_ERRNO', errnoRet: 82, args: [{ index: 1, value: 0x1_0000_0000, op: 'SCMP_CMP_GT' }] },
        { names: ['getpgid'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 2001, op: 'SCMP_CMP_EQ' }] },
        { names: ['getpgid'], action: 'SCMP_ACT_TRACE', args: [{ index: 0, value: 2002, op: 'SCMP_CMP_EQ' }] },
      ],
    };
    const out = await probe(profile, [
      ['masked_hit', [NR.getsid, '100000042']],
      ['masked_hit_other_high_bits', [NR.getsid, '300000042']], // 0x3_... & 0x1_...ff == 0x1_...42
      ['masked_miss_high', [NR.getsid, '200000042']],
      ['masked_miss_low_only', [NR.getsid, 0x42]],
      ['masked_miss_low', [NR.getsid, '100000043']],
      ['gt_hit', [NR.getpriority, 0, '100000001']],
      ['gt_equal', [NR.getpriority, 0, '100000000']],
      ['gt_low_word_larger', [NR.getpriority, 0, 'ffffffff']],
      ['gt_high_word_larger', [NR.getpriority, 0, '200000000']],
      ['default_errno', [NR.getpgid, 2001]],
      ['trace', [NR.getpgid, 2002]],
    ]);
    expect(out.masked_hit).toBe(81);
    expect(out.masked_hit_other_high_bits).toBe(81);
    for (const k of ['masked_miss_high', 'masked_miss_low_only', 'masked_miss_low']) expect(out[k], k).not.toBe(81);
    expect(out.gt_hit).toBe(82);
    expect(out.gt_high_word_larger).toBe(82);
    expect(out.gt_equal).not.toBe(82);
    expect(out.gt_low_word_larger).not.toBe(82);
    expect(out.default_errno).toBe(77); // a rule without errnoRet takes defaultErrnoRet
    expect(out.trace).toBe(ENOSYS); // no tracer: what the kernel answers then
  });

  it('bkg run --rm --seccomp takes the published files as they are', async () => {
    for (const file of [DOCKER_FILE, PODMAN_FILE]) {
      const r = await bkg(['run', '--rm', '--seccomp', file, '--', 'sh', '-c', 'ls / >/dev/null && echo ok; unshare -U true; echo rc=$?']);
      expect(r.stdout, r.stderr).toContain('ok\n');
      expect(r.stdout).toContain('rc=1');
      expect(r.stderr).toMatch(/unshare.*Operation not permitted/);
      expect(r.code).toBe(0);
    }
  });
});
