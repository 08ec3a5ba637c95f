/**
 * Loads compiled filters into the real kernel: a python3 child sets PR_SET_NO_NEW_PRIVS, installs
 * the program with seccomp(SECCOMP_SET_MODE_FILTER) and reports what a few syscalls return.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileSeccomp, defaultSeccompProfile } from '../../../src/runtime/seccomp/index.js';

const PROBE = String.raw`
import ctypes, json, os, subprocess, sys, threading

program = open(sys.argv[1], 'rb').read()
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

class SockFprog(ctypes.Structure):
    _fields_ = [('len', ctypes.c_ushort), ('filter', ctypes.c_void_p)]

filt = ctypes.create_string_buffer(program, len(program))
fprog = SockFprog(len(program) // 8, ctypes.cast(filt, ctypes.c_void_p))

def sys_call(*args):
    ctypes.set_errno(0)
    ret = libc.syscall(*[ctypes.c_long(a) for a in args])
    return 0 if ret >= 0 else ctypes.get_errno()

PR_SET_NO_NEW_PRIVS = 38
if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
    print('prctl(PR_SET_NO_NEW_PRIVS) failed: errno', ctypes.get_errno()); sys.exit(2)
if libc.syscall(ctypes.c_long(317), ctypes.c_long(1), ctypes.c_long(0), ctypes.byref(fprog)) != 0:
    print('seccomp(SECCOMP_SET_MODE_FILTER) failed: errno', ctypes.get_errno()); sys.exit(3)

out = {}
out['getpid'] = os.getpid()
out['unshare'] = sys_call(272, 0x10000000)
out['clone3'] = sys_call(435, 0, 0)
out['reboot'] = sys_call(169, 0, 0, 0, 0)
out['x32_getpid'] = sys_call(0x40000000 | 39)
out['personality_query'] = sys_call(135, 0xffffffff)
out['personality_norandom'] = sys_call(135, 0x0040000)
out['io_uring_setup'] = sys_call(425, 1, 0)
box = []
t = threading.Thread(target=lambda: box.append(os.getpid()))
t.start(); t.join()
out['thread'] = box == [os.getpid()]
out['child'] = subprocess.run(['/bin/sh', '-c', 'echo hello from $0'], capture_output=True, text=True).stdout.strip()
print(json.dumps(out))
`;

const seccompAvailable = existsSync('/proc/sys/kernel/seccomp/actions_avail');
const pythonAvailable = spawnSync('python3', ['-c', 'pass']).status === 0;
const skipReason = !seccompAvailable
  ? 'seccomp is not available (/proc/sys/kernel/seccomp/actions_avail is missing)'
  : !pythonAvailable
    ? 'python3 is not available'
    : undefined;
// In CI the kernel test must run: never skip there.
const skip = skipReason !== undefined && process.env.CI !== 'true';
if (skip) console.warn(`skipping seccomp kernel test: ${skipReason}`);

describe('compiled filters in the kernel', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bkg-seccomp-kernel-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function probe(program: Buffer): Record<string, unknown> {
    const file = join(dir, `filter-${program.length}.bpf`);
    writeFileSync(file, program);
    const res = spawnSync('python3', ['-c', PROBE, file], { encoding: 'utf8', timeout: 30_000 });
    expect(res.status, `python3 probe failed: ${res.stdout}${res.stderr}`).toBe(0);
    const lastLine = res.stdout.trim().split('\n').at(-1) ?? '';
    return JSON.parse(lastLine) as Record<string, unknown>;
  }

  it.skipIf(skip)('loads the default program, which runs ordinary code and denies the rest', () => {
    const out = probe(compileSeccomp(defaultSeccompProfile()));
    expect(out.getpid).toEqual(expect.any(Number));
    expect(out.unshare).toBe(1); // EPERM
    expect(out.clone3).toBe(38); // ENOSYS: libc falls back to clone
    expect(out.reboot).toBe(1);
    expect(out.x32_getpid).toBe(1);
    expect(out.personality_query).toBe(0);
    expect(out.personality_norandom).toBe(1);
    expect(out.io_uring_setup).toBe(1);
    expect(out.thread).toBe(true);
    expect(out.child).toBe('hello from /bin/sh');
  });

  it.skipIf(skip)('loads an allow-by-default profile and still applies the hard denies', () => {
    const out = probe(compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['reboot', 'unshare'], action: 'SCMP_ACT_ALLOW' }] }));
    expect(out.unshare).toBe(1);
    expect(out.reboot).toBe(1);
    expect(out.clone3).toBe(38);
    expect(out.personality_norandom).toBe(0);
    expect(out.thread).toBe(true);
    expect(out.child).toBe('hello from /bin/sh');
  });
});
