import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BkgError } from '../../../src/api/errors.js';
import { loadSeccompProfileFile, parseSeccompProfile } from '../../../src/runtime/seccomp/index.js';

function parseError(json: unknown): BkgError {
  try {
    parseSeccompProfile(json);
  } catch (err) {
    expect(err).toBeInstanceOf(BkgError);
    return err as BkgError;
  }
  throw new Error('expected parseSeccompProfile to throw');
}

function expectInvalid(json: unknown, field: string): void {
  const err = parseError(json);
  expect(err.code).toBe('INVALID_SECCOMP_PROFILE');
  expect(err.message).toContain(field);
}

const rule = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ names: ['read'], action: 'SCMP_ACT_ALLOW', ...extra });
const withRule = (extra: Record<string, unknown>): Record<string, unknown> => ({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [rule(extra)] });
const withArg = (arg: Record<string, unknown>): Record<string, unknown> => withRule({ args: [arg] });

describe('parseSeccompProfile', () => {
  it('accepts a full OCI profile and returns a clean copy', () => {
    const input = {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 1,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      syscalls: [
        { names: ['read', 'write', 'arm_fadvise64_64'], action: 'SCMP_ACT_ALLOW' },
        { names: ['kill'], action: 'SCMP_ACT_ERRNO', errnoRet: 3, args: [{ index: 1, value: 9, valueTwo: 0, op: 'SCMP_CMP_EQ' }] },
        { names: ['mmap'], action: 'SCMP_ACT_LOG', comment: 'x', args: [{ index: 2, value: 4, valueTwo: 4, op: 'SCMP_CMP_MASKED_EQ' }] },
      ],
    };
    const profile = parseSeccompProfile(input);
    expect(profile).toEqual(input);
    expect(profile).not.toBe(input);
    expect(parseSeccompProfile({ defaultAction: 'SCMP_ACT_KILL_PROCESS' })).toEqual({ defaultAction: 'SCMP_ACT_KILL_PROCESS' });
  });

  it('accepts bigint values beyond 2^53 from code', () => {
    const profile = parseSeccompProfile(withArg({ index: 0, value: 0xffff_ffff_ffff_fff0n, op: 'SCMP_CMP_GE' }));
    expect(profile.syscalls?.[0]?.args?.[0]?.value).toBe(0xffff_ffff_ffff_fff0n);
  });

  it('accepts an empty architectures list (the native arch) and empty flags', () => {
    expect(parseSeccompProfile({ defaultAction: 'SCMP_ACT_ALLOW', architectures: [], flags: [] })).toEqual({
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: [],
    });
  });

  it.each([
    ['not an object', [], 'profile'],
    ['null', null, 'profile'],
    ['missing defaultAction', {}, 'defaultAction'],
    ['bad defaultAction', { defaultAction: 'SCMP_ACT_MAYBE' }, 'defaultAction'],
    ['unsupported defaultAction', { defaultAction: 'SCMP_ACT_NOTIFY' }, 'defaultAction'],
    ['bad defaultErrnoRet', { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: -1 }, 'defaultErrnoRet'],
    ['huge defaultErrnoRet', { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 70000 }, 'defaultErrnoRet'],
    ['unknown field', { defaultAction: 'SCMP_ACT_ERRNO', seccompVersion: 2 }, 'seccompVersion'],
    ['flags', { defaultAction: 'SCMP_ACT_ERRNO', flags: ['SECCOMP_FILTER_FLAG_LOG'] }, 'flags'],
    ['architectures not array', { defaultAction: 'SCMP_ACT_ERRNO', architectures: 'SCMP_ARCH_X86_64' }, 'architectures'],
    ['unknown arch', { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_Z80'] }, 'architectures[1]'],
    ['no x86_64', { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_X86'] }, 'architectures'],
    ['syscalls not array', { defaultAction: 'SCMP_ACT_ERRNO', syscalls: {} }, 'syscalls'],
    ['rule not object', { defaultAction: 'SCMP_ACT_ERRNO', syscalls: ['read'] }, 'syscalls[0]'],
    ['names not array', withRule({ names: 'read' }), 'syscalls[0].names'],
    ['names missing', { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ action: 'SCMP_ACT_ALLOW' }] }, 'syscalls[0].names'],
    ['names empty', withRule({ names: [] }), 'syscalls[0].names'],
    ['name not a string', withRule({ names: ['read', 3] }), 'syscalls[0].names[1]'],
    ['bad name', withRule({ names: ['read; rm'] }), 'syscalls[0].names[0]'],
    ['bad rule action', withRule({ action: 'ALLOW' }), 'syscalls[0].action'],
    ['errnoRet on allow', withRule({ errnoRet: 1 }), 'syscalls[0].errnoRet'],
    ['bad errnoRet', withRule({ action: 'SCMP_ACT_ERRNO', errnoRet: 1.5 }), 'syscalls[0].errnoRet'],
    ['unknown rule field', withRule({ priority: 1 }), 'syscalls[0].priority'],
    ['comment not string', withRule({ comment: 1 }), 'syscalls[0].comment'],
    ['args not array', withRule({ args: { index: 0 } }), 'syscalls[0].args'],
    ['arg not object', withRule({ args: [1] }), 'syscalls[0].args[0]'],
    ['bad op', withArg({ index: 0, value: 1, op: 'SCMP_CMP_ALMOST' }), 'syscalls[0].args[0].op'],
    ['missing op', withArg({ index: 0, value: 1 }), 'syscalls[0].args[0].op'],
    ['index > 5', withArg({ index: 6, value: 1, op: 'SCMP_CMP_EQ' }), 'syscalls[0].args[0].index'],
    ['negative index', withArg({ index: -1, value: 1, op: 'SCMP_CMP_EQ' }), 'syscalls[0].args[0].index'],
    ['fractional index', withArg({ index: 0.5, value: 1, op: 'SCMP_CMP_EQ' }), 'syscalls[0].args[0].index'],
    ['missing value', withArg({ index: 0, op: 'SCMP_CMP_EQ' }), 'syscalls[0].args[0].value'],
    ['negative value', withArg({ index: 0, value: -1, op: 'SCMP_CMP_EQ' }), 'syscalls[0].args[0].value'],
    ['string value', withArg({ index: 0, value: '1', op: 'SCMP_CMP_EQ' }), 'syscalls[0].args[0].value'],
    ['imprecise value', withArg({ index: 0, value: 2 ** 64, op: 'SCMP_CMP_EQ' }), 'syscalls[0].args[0].value'],
    ['bigint over 64 bits', withArg({ index: 0, value: 1n << 64n, op: 'SCMP_CMP_EQ' }), 'syscalls[0].args[0].value'],
    ['valueTwo without MASKED_EQ', withArg({ index: 0, value: 1, valueTwo: 2, op: 'SCMP_CMP_EQ' }), 'syscalls[0].args[0].valueTwo'],
    ['bad valueTwo', withArg({ index: 0, value: 1, valueTwo: -2, op: 'SCMP_CMP_MASKED_EQ' }), 'syscalls[0].args[0].valueTwo'],
    ['unknown arg field', withArg({ index: 0, value: 1, op: 'SCMP_CMP_EQ', valueThree: 3 }), 'syscalls[0].args[0].valueThree'],
  ])('rejects %s, naming the field', (_label, json, field) => {
    expectInvalid(json, field);
  });

  it('names the rule index in the message for later rules', () => {
    const err = parseError({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [rule(), rule(), rule({ args: [{ index: 9, value: 0, op: 'SCMP_CMP_EQ' }] })] });
    expect(err.message).toContain('syscalls[2].args[0].index');
    expect(err.details).toEqual({ field: 'syscalls[2].args[0].index' });
  });
});

describe('parseSeccompProfile: Docker and Podman extensions', () => {
  it('keeps archMap, includes/excludes, comments and accepted flags, and folds name, errno names and nulls', () => {
    const profile = parseSeccompProfile({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      defaultErrno: 'ENOSYS',
      archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] }, { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: null }],
      flags: ['SECCOMP_FILTER_FLAG_TSYNC'],
      listenerPath: '/run/agent.sock',
      listenerMetadata: 'x',
      syscalls: [
        { name: 'read', action: 'SCMP_ACT_ALLOW', args: null, comment: '', includes: {}, excludes: {} },
        { names: ['chroot'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, errno: 'EPERM', args: [], includes: {}, excludes: { caps: ['CAP_SYS_CHROOT'] } },
        { names: ['socket'], action: 'SCMP_ACT_ERRNO', errno: 'EINVAL', args: [{ index: 0, value: 16, valueTwo: 0, op: 'SCMP_CMP_EQ' }], excludes: { caps: ['CAP_AUDIT_WRITE'], arches: null } },
        { names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8', arches: ['amd64', 'x32'], caps: [] } },
        { names: ['getpid'], action: 'SCMP_ACT_TRACE', errnoRet: 5 },
      ],
    });
    expect(profile).toEqual({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] }, { architecture: 'SCMP_ARCH_AARCH64' }],
      flags: ['SECCOMP_FILTER_FLAG_TSYNC'],
      listenerPath: '/run/agent.sock',
      listenerMetadata: 'x',
      syscalls: [
        { names: ['read'], action: 'SCMP_ACT_ALLOW', comment: '' },
        { names: ['chroot'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [], excludes: { caps: ['CAP_SYS_CHROOT'] } },
        { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 22, args: [{ index: 0, value: 16, valueTwo: 0, op: 'SCMP_CMP_EQ' }], excludes: { caps: ['CAP_AUDIT_WRITE'] } },
        { names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8', arches: ['amd64', 'x32'] } },
        { names: ['getpid'], action: 'SCMP_ACT_TRACE', errnoRet: 5 },
      ],
    });
    // bkg's form is a fixed point: the daemon parses again what the CLI parsed
    expect(parseSeccompProfile(JSON.parse(JSON.stringify(profile)))).toEqual(profile);
  });

  it.each([
    ['an unknown field in includes', withRule({ includes: { kernel: '4.8' } }), 'syscalls[0].includes.kernel'],
    ['an unknown field in excludes', withRule({ excludes: { capabilities: ['CAP_SYS_ADMIN'] } }), 'syscalls[0].excludes.capabilities'],
    ['includes not an object', withRule({ includes: ['amd64'] }), 'syscalls[0].includes'],
    ['arches not an array', withRule({ includes: { arches: 'amd64' } }), 'syscalls[0].includes.arches'],
    ['a bad arch name', withRule({ excludes: { arches: ['amd64', 'x86 64'] } }), 'syscalls[0].excludes.arches[1]'],
    ['a bad capability name', withRule({ includes: { caps: ['SYS_ADMIN'] } }), 'syscalls[0].includes.caps[0]'],
    ['a bad minKernel', withRule({ includes: { minKernel: '4' } }), 'syscalls[0].includes.minKernel'],
    ['a numeric minKernel', withRule({ excludes: { minKernel: 4.8 } }), 'syscalls[0].excludes.minKernel'],
    ['name with names', withRule({ name: 'write' }), 'syscalls[0].name'],
    ['a bad name', { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ name: 'rm -rf', action: 'SCMP_ACT_ALLOW' }] }, 'syscalls[0].name'],
    ['an unknown errno name', withRule({ action: 'SCMP_ACT_ERRNO', errno: 'EWHATEVER' }), 'syscalls[0].errno'],
    ['errno disagreeing with errnoRet', withRule({ action: 'SCMP_ACT_ERRNO', errnoRet: 1, errno: 'ENOSYS' }), 'syscalls[0].errno'],
    ['errno on allow', withRule({ errno: 'EPERM' }), 'syscalls[0].errno'],
    ['defaultErrno unknown', { defaultAction: 'SCMP_ACT_ERRNO', defaultErrno: 'ENOPE' }, 'defaultErrno'],
    ['defaultErrno disagreeing', { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1, defaultErrno: 'ENOSYS' }, 'defaultErrno'],
    ['archMap not an array', { defaultAction: 'SCMP_ACT_ERRNO', archMap: {} }, 'archMap'],
    ['an unknown archMap field', { defaultAction: 'SCMP_ACT_ERRNO', archMap: [{ arch: 'SCMP_ARCH_X86_64' }] }, 'archMap[0].arch'],
    ['an unknown archMap architecture', { defaultAction: 'SCMP_ACT_ERRNO', archMap: [{ architecture: 'amd64' }] }, 'archMap[0].architecture'],
    ['an unknown sub-architecture', { defaultAction: 'SCMP_ACT_ERRNO', archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_Z80'] }] }, 'archMap[0].subArchitectures[0]'],
    ['archMap with architectures', { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'], archMap: [{ architecture: 'SCMP_ARCH_X86_64' }] }, 'archMap'],
    ['SCMP_ACT_NOTIFY', withRule({ action: 'SCMP_ACT_NOTIFY' }), 'syscalls[0].action'],
    ['the LOG flag', { defaultAction: 'SCMP_ACT_ERRNO', flags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG'] }, 'flags[1]'],
    ['the SPEC_ALLOW flag', { defaultAction: 'SCMP_ACT_ERRNO', flags: ['SECCOMP_FILTER_FLAG_SPEC_ALLOW'] }, 'flags[0]'],
    ['an unknown flag', { defaultAction: 'SCMP_ACT_ERRNO', flags: ['SECCOMP_FILTER_FLAG_FAST'] }, 'flags[0]'],
    ['listenerPath not a string', { defaultAction: 'SCMP_ACT_ERRNO', listenerPath: 1 }, 'listenerPath'],
  ])('rejects %s, naming the field', (_label, json, field) => {
    const err = parseError(json);
    expect(err.code).toBe('INVALID_SECCOMP_PROFILE');
    expect(err.message).toContain(field);
    expect(err.details).toEqual({ field });
  });

  it('explains why SCMP_ACT_NOTIFY and refused flags are refused', () => {
    expect(parseError(withRule({ action: 'SCMP_ACT_NOTIFY' })).message).toMatch(/seccomp agent/);
    expect(parseError({ defaultAction: 'SCMP_ACT_NOTIFY' }).message).toMatch(/defaultAction SCMP_ACT_NOTIFY is not supported/);
    expect(parseError({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_SPEC_ALLOW'] }).message).toMatch(/speculative store bypass/);
  });
});

describe('loadSeccompProfileFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bkg-seccomp-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads and validates a profile', () => {
    const path = join(dir, 'ok.json');
    writeFileSync(path, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [rule()] }));
    expect(loadSeccompProfileFile(path)).toEqual({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [rule()] });
  });

  it('reports invalid JSON as INVALID_SECCOMP_PROFILE', () => {
    const path = join(dir, 'broken.json');
    writeFileSync(path, '{"defaultAction": "SCMP_ACT_ALLOW",');
    expect(() => loadSeccompProfileFile(path)).toThrow(
      expect.objectContaining({ name: 'BkgError', code: 'INVALID_SECCOMP_PROFILE', message: expect.stringContaining('not valid JSON') }),
    );
  });

  it('reports a missing file as INVALID_SECCOMP_PROFILE', () => {
    expect(() => loadSeccompProfileFile(join(dir, 'missing.json'))).toThrow(
      expect.objectContaining({ code: 'INVALID_SECCOMP_PROFILE', message: expect.stringContaining('missing.json') }),
    );
  });

  it('names the file and the field for an invalid profile', () => {
    const path = join(dir, 'bad.json');
    writeFileSync(path, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0, op: 'BAD' }] }] }));
    expect(() => loadSeccompProfileFile(path)).toThrow(
      expect.objectContaining({ code: 'INVALID_SECCOMP_PROFILE', message: expect.stringMatching(/bad\.json.*syscalls\[0\]\.args\[0\]\.op/) }),
    );
  });
});
