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
    ['unknown field', { defaultAction: 'SCMP_ACT_ERRNO', archMap: [] }, 'archMap'],
    ['flags', { defaultAction: 'SCMP_ACT_ERRNO', flags: ['SECCOMP_FILTER_FLAG_LOG'] }, 'flags'],
    ['architectures not array', { defaultAction: 'SCMP_ACT_ERRNO', architectures: 'SCMP_ARCH_X86_64' }, 'architectures'],
    ['unknown arch', { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_Z80'] }, 'architectures[1]'],
    ['no x86_64', { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_X86'] }, 'architectures'],
    ['syscalls not array', { defaultAction: 'SCMP_ACT_ERRNO', syscalls: {} }, 'syscalls'],
    ['rule not object', { defaultAction: 'SCMP_ACT_ERRNO', syscalls: ['read'] }, 'syscalls[0]'],
    ['names not array', withRule({ names: 'read' }), 'syscalls[0].names'],
    ['names missing', { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ name: 'read', action: 'SCMP_ACT_ALLOW' }] }, 'syscalls[0].name'],
    ['names empty', withRule({ names: [] }), 'syscalls[0].names'],
    ['name not a string', withRule({ names: ['read', 3] }), 'syscalls[0].names[1]'],
    ['bad name', withRule({ names: ['read; rm'] }), 'syscalls[0].names[0]'],
    ['bad rule action', withRule({ action: 'ALLOW' }), 'syscalls[0].action'],
    ['errnoRet on allow', withRule({ errnoRet: 1 }), 'syscalls[0].errnoRet'],
    ['bad errnoRet', withRule({ action: 'SCMP_ACT_ERRNO', errnoRet: 1.5 }), 'syscalls[0].errnoRet'],
    ['unknown rule field', withRule({ excludes: { caps: ['CAP_SYS_ADMIN'] } }), 'syscalls[0].excludes'],
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
