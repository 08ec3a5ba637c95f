import { describe, expect, it } from 'vitest';
import {
  BPF_MAXINSNS,
  HARD_DENIED_SYSCALLS,
  SECCOMP_OPS,
  SOCK_FILTER_SIZE,
  SYSCALLS_X86_64,
  compileSeccomp,
  decodeProgram,
  type SeccompArg,
  type SeccompOp,
  type SeccompProfile,
  type SeccompSyscallRule,
} from '../../../src/runtime/seccomp/index.js';
import { ALLOW, ENOSYS, EPERM, KILL_PROCESS, X32_BIT, errno, nr, prng, referenceVerdict, verdict } from './helpers.js';

const allowAll: SeccompProfile = { defaultAction: 'SCMP_ACT_ALLOW' };
const denyAll: SeccompProfile = { defaultAction: 'SCMP_ACT_ERRNO' };

/** A profile that explicitly allows everything bkg hard-denies, and the namespace calls. */
const allowsDangerous: SeccompProfile = {
  defaultAction: 'SCMP_ACT_ERRNO',
  syscalls: [{ names: [...HARD_DENIED_SYSCALLS, 'unshare', 'setns', 'clone', 'clone3', 'getpid'], action: 'SCMP_ACT_ALLOW' }],
};

function withRules(...syscalls: SeccompSyscallRule[]): SeccompProfile {
  return { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 13, syscalls };
}

function cmp(op: SeccompOp, value: number | bigint, valueTwo?: number | bigint, index = 1): SeccompArg {
  return valueTwo === undefined ? { index, op, value } : { index, op, value, valueTwo };
}

describe('compileSeccomp: program shape', () => {
  it('emits whole little-endian sock_filter records', () => {
    const program = compileSeccomp(allowAll);
    expect(program.length % SOCK_FILTER_SIZE).toBe(0);
    const insns = decodeProgram(program);
    // LD arch; JEQ AUDIT_ARCH_X86_64; RET KILL_PROCESS; LD nr
    expect(insns[0]).toEqual({ code: 0x20, jt: 0, jf: 0, k: 4 });
    expect(insns[1]).toEqual({ code: 0x15, jt: 1, jf: 0, k: 0xc000003e });
    expect(insns[2]).toEqual({ code: 0x06, jt: 0, jf: 0, k: 0x80000000 });
    expect(insns[3]).toEqual({ code: 0x20, jt: 0, jf: 0, k: 0 });
    expect(program.readUInt32LE(12)).toBe(0xc000003e);
  });

  it('only ever jumps forward inside the program and ends every path in RET', () => {
    for (const profile of [allowAll, denyAll, allowsDangerous]) {
      for (const opts of [{}, { allowNestedNamespaces: true }]) {
        const insns = decodeProgram(compileSeccomp(profile, opts));
        expect(insns.length).toBeLessThanOrEqual(BPF_MAXINSNS);
        insns.forEach((ins, pc) => {
          if ((ins.code & 0x07) === 0x05) {
            const far = ins.code === 0x05 ? ins.k : Math.max(ins.jt, ins.jf);
            expect(pc + 1 + far).toBeLessThan(insns.length);
          }
        });
        expect(insns.at(-1)?.code).toBe(0x06);
      }
    }
  });

  it('is deterministic', () => {
    expect(compileSeccomp(allowsDangerous).equals(compileSeccomp(allowsDangerous))).toBe(true);
  });
});

describe('compileSeccomp: architecture and ABI', () => {
  const program = compileSeccomp(allowAll);

  it('kills the process for a foreign architecture', () => {
    expect(verdict(program, 'read', [], 0x40000003 /* AUDIT_ARCH_I386 */)).toBe(KILL_PROCESS);
    expect(verdict(program, 'read', [], 0xc00000b7 /* AUDIT_ARCH_AARCH64 */)).toBe(KILL_PROCESS);
    expect(verdict(program, 'read')).toBe(ALLOW);
  });

  it('denies the x32 ABI with EPERM', () => {
    expect(verdict(program, X32_BIT | nr('getpid'))).toBe(EPERM);
    expect(verdict(program, X32_BIT | 512)).toBe(EPERM);
    expect(verdict(program, 0xffffffff)).toBe(EPERM);
    expect(verdict(program, X32_BIT - 1)).toBe(ALLOW);
  });

  it('applies the default action to numbers with no syscall', () => {
    expect(verdict(program, 100_000)).toBe(ALLOW);
    expect(verdict(compileSeccomp(denyAll), 100_000)).toBe(EPERM);
    expect(verdict(compileSeccomp({ defaultAction: 'SCMP_ACT_KILL_PROCESS' }), 100_000)).toBe(KILL_PROCESS);
  });
});

describe('compileSeccomp: hard denies', () => {
  for (const profile of [allowAll, allowsDangerous]) {
    for (const nested of [false, true]) {
      const program = compileSeccomp(profile, { allowNestedNamespaces: nested });
      it.each(HARD_DENIED_SYSCALLS.filter((n) => SYSCALLS_X86_64[n] !== undefined))(
        `%s is EPERM (default ${profile.defaultAction}, nested=${nested})`,
        (name) => {
          expect(verdict(program, name)).toBe(EPERM);
          expect(verdict(program, name, [0, 0, 0, 0, 0, 0])).toBe(EPERM);
        },
      );
    }
  }

  it('knows every hard-denied syscall on x86_64', () => {
    expect(HARD_DENIED_SYSCALLS.filter((n) => SYSCALLS_X86_64[n] === undefined)).toEqual([]);
  });

  it('denies unshare and setns, and clone3 with ENOSYS, unless nested namespaces are allowed', () => {
    const program = compileSeccomp(allowsDangerous);
    expect(verdict(program, 'unshare', [0x10000000])).toBe(EPERM);
    expect(verdict(program, 'unshare', [0])).toBe(EPERM);
    expect(verdict(program, 'setns', [3, 0])).toBe(EPERM);
    expect(verdict(program, 'clone3', [0, 88])).toBe(ENOSYS);
    expect(verdict(program, 'getpid')).toBe(ALLOW);
  });

  it('denies clone with any namespace flag but allows fork- and thread-style clone', () => {
    const program = compileSeccomp(allowsDangerous);
    expect(verdict(program, 'clone', [0x01200011])).toBe(ALLOW); // fork: CHILD_SETTID|CHILD_CLEARTID|SIGCHLD
    expect(verdict(program, 'clone', [0x003d0f00])).toBe(ALLOW); // pthread_create flags
    const nsFlags = [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x00000080];
    for (const flag of nsFlags) {
      expect(verdict(program, 'clone', [0x01200011 | flag])).toBe(EPERM);
      expect(verdict(program, 'clone', [BigInt(flag) | 0xffffffff00000000n])).toBe(EPERM);
    }
    // Only the low word reaches clone(2): high bits alone are harmless and must not be denied.
    expect(verdict(program, 'clone', [0x10000000_01200011n])).toBe(ALLOW);
    // The ns check applies whatever the profile says about clone.
    expect(verdict(compileSeccomp(allowAll), 'clone', [0x10000011])).toBe(EPERM);
  });

  it('leaves namespace syscalls to the profile when allowNestedNamespaces is set', () => {
    const nested = compileSeccomp(allowsDangerous, { allowNestedNamespaces: true });
    expect(verdict(nested, 'unshare', [0x10000000])).toBe(ALLOW);
    expect(verdict(nested, 'setns', [3, 0])).toBe(ALLOW);
    expect(verdict(nested, 'clone3', [0, 88])).toBe(ALLOW);
    expect(verdict(nested, 'clone', [0x10000011])).toBe(ALLOW);
    expect(verdict(nested, 'mount')).toBe(EPERM);

    const notAllowed = compileSeccomp(withRules({ names: ['clone'], action: 'SCMP_ACT_ALLOW' }), { allowNestedNamespaces: true });
    expect(verdict(notAllowed, 'unshare', [0x10000000])).toBe(errno(13));
    expect(verdict(notAllowed, 'clone', [0x10000011])).toBe(ALLOW);
  });
});

describe('compileSeccomp: actions and errno values', () => {
  it('maps every action', () => {
    const program = compileSeccomp({
      defaultAction: 'SCMP_ACT_TRAP',
      syscalls: [
        { names: ['read'], action: 'SCMP_ACT_ALLOW' },
        { names: ['write'], action: 'SCMP_ACT_ERRNO' },
        { names: ['open'], action: 'SCMP_ACT_KILL' },
        { names: ['close'], action: 'SCMP_ACT_KILL_THREAD' },
        { names: ['stat'], action: 'SCMP_ACT_KILL_PROCESS' },
        { names: ['fstat'], action: 'SCMP_ACT_LOG' },
        { names: ['lstat'], action: 'SCMP_ACT_TRAP' },
      ],
    });
    expect(verdict(program, 'read')).toBe(0x7fff0000);
    expect(verdict(program, 'write')).toBe(0x00050001);
    expect(verdict(program, 'open')).toBe(0);
    expect(verdict(program, 'close')).toBe(0);
    expect(verdict(program, 'stat')).toBe(0x80000000);
    expect(verdict(program, 'fstat')).toBe(0x7ffc0000);
    expect(verdict(program, 'lstat')).toBe(0x00030000);
    expect(verdict(program, 'poll')).toBe(0x00030000);
  });

  it('uses the rule errnoRet, then defaultErrnoRet, then EPERM', () => {
    const rules: SeccompSyscallRule[] = [
      { names: ['read'], action: 'SCMP_ACT_ERRNO', errnoRet: 5 },
      { names: ['write'], action: 'SCMP_ACT_ERRNO' },
      { names: ['close'], action: 'SCMP_ACT_ERRNO', errnoRet: 0 },
    ];
    const withDefault = compileSeccomp({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38, syscalls: rules });
    expect(verdict(withDefault, 'read')).toBe(errno(5));
    expect(verdict(withDefault, 'write')).toBe(errno(38));
    expect(verdict(withDefault, 'close')).toBe(errno(0));
    expect(verdict(withDefault, 'getpid')).toBe(errno(38));
    const withoutDefault = compileSeccomp({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: rules });
    expect(verdict(withoutDefault, 'write')).toBe(EPERM);
    expect(verdict(withoutDefault, 'getpid')).toBe(EPERM);
  });

  it('ignores syscall names unknown on x86_64', () => {
    const program = compileSeccomp(withRules({ names: ['_llseek', 'read', 'socketcall', 'no_such_call', 'constructor'], action: 'SCMP_ACT_ALLOW' }));
    expect(verdict(program, 'read')).toBe(ALLOW);
    expect(verdict(program, 'write')).toBe(errno(13));
  });
});

describe('compileSeccomp: argument conditions', () => {
  const big = 0x1_0000_0005n;

  it('EQ and NE compare all 64 bits', () => {
    const eq = compileSeccomp(withRules({ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [cmp('SCMP_CMP_EQ', big, undefined, 0)] }));
    expect(verdict(eq, 'read', [big])).toBe(ALLOW);
    expect(verdict(eq, 'read', [5])).toBe(errno(13));
    expect(verdict(eq, 'read', [0x2_0000_0005n])).toBe(errno(13));
    expect(verdict(eq, 'read', [0x1_0000_0004n])).toBe(errno(13));
    const ne = compileSeccomp(withRules({ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [cmp('SCMP_CMP_NE', big, undefined, 0)] }));
    expect(verdict(ne, 'read', [big])).toBe(errno(13));
    expect(verdict(ne, 'read', [5])).toBe(ALLOW);
    expect(verdict(ne, 'read', [0x1_0000_0006n])).toBe(ALLOW);
  });

  const orderCases: [SeccompOp, bigint, boolean][] = [
    ['SCMP_CMP_LT', big - 1n, true],
    ['SCMP_CMP_LT', big, false],
    ['SCMP_CMP_LT', 0x0_ffff_ffffn, true],
    ['SCMP_CMP_LT', 0x0_0000_0006n, true], // low word larger, high word smaller
    ['SCMP_CMP_LT', 0x2_0000_0000n, false], // low word smaller, high word larger
    ['SCMP_CMP_LE', big, true],
    ['SCMP_CMP_LE', big + 1n, false],
    ['SCMP_CMP_LE', 0x0_ffff_ffffn, true],
    ['SCMP_CMP_LE', 0x2_0000_0000n, false],
    ['SCMP_CMP_GT', big + 1n, true],
    ['SCMP_CMP_GT', big, false],
    ['SCMP_CMP_GT', 0x2_0000_0000n, true],
    ['SCMP_CMP_GT', 0x0_ffff_ffffn, false],
    ['SCMP_CMP_GE', big, true],
    ['SCMP_CMP_GE', big - 1n, false],
    ['SCMP_CMP_GE', 0x2_0000_0000n, true],
    ['SCMP_CMP_GE', 0x0_ffff_ffffn, false],
    ['SCMP_CMP_GE', 0xffff_ffff_ffff_ffffn, true],
  ];
  it.each(orderCases)(`%s 0x1_0000_0005 against %s is %s`, (op, value, matches) => {
    const program = compileSeccomp(withRules({ names: ['write'], action: 'SCMP_ACT_ALLOW', args: [cmp(op, big, undefined, 2)] }));
    expect(verdict(program, 'write', [0, 0, value])).toBe(matches ? ALLOW : errno(13));
  });

  it('MASKED_EQ uses value as the mask and valueTwo as the expected bits, in both words', () => {
    const low = compileSeccomp(withRules({ names: ['mmap'], action: 'SCMP_ACT_ALLOW', args: [cmp('SCMP_CMP_MASKED_EQ', 0x7, 0x4, 2)] }));
    expect(verdict(low, 'mmap', [0, 0, 0x4])).toBe(ALLOW);
    expect(verdict(low, 'mmap', [0, 0, 0xfffffff4n | (0xffffn << 40n)])).toBe(ALLOW);
    expect(verdict(low, 'mmap', [0, 0, 0x5])).toBe(errno(13));
    const high = compileSeccomp(
      withRules({ names: ['mmap'], action: 'SCMP_ACT_ALLOW', args: [cmp('SCMP_CMP_MASKED_EQ', 0xff_0000_00ffn, 0x01_0000_0002n, 2)] }),
    );
    expect(verdict(high, 'mmap', [0, 0, 0x01_1234_5602n])).toBe(ALLOW);
    expect(verdict(high, 'mmap', [0, 0, 0x02_0000_0002n])).toBe(errno(13));
    expect(verdict(high, 'mmap', [0, 0, 0x01_0000_0003n])).toBe(errno(13));
    const zero = compileSeccomp(withRules({ names: ['mmap'], action: 'SCMP_ACT_ALLOW', args: [cmp('SCMP_CMP_MASKED_EQ', 0x30, undefined, 2)] }));
    expect(verdict(zero, 'mmap', [0, 0, 0x0f])).toBe(ALLOW);
    expect(verdict(zero, 'mmap', [0, 0, 0x10])).toBe(errno(13));
  });

  it('ANDs the conditions of one rule and reads each argument index', () => {
    const program = compileSeccomp(
      withRules({
        names: ['mmap'],
        action: 'SCMP_ACT_ALLOW',
        args: [cmp('SCMP_CMP_GE', 10, undefined, 0), cmp('SCMP_CMP_LE', 20, undefined, 0), cmp('SCMP_CMP_EQ', 7, undefined, 5)],
      }),
    );
    expect(verdict(program, 'mmap', [15, 0, 0, 0, 0, 7])).toBe(ALLOW);
    expect(verdict(program, 'mmap', [15, 0, 0, 0, 0, 8])).toBe(errno(13));
    expect(verdict(program, 'mmap', [21, 0, 0, 0, 0, 7])).toBe(errno(13));
    expect(verdict(program, 'mmap', [9, 0, 0, 0, 0, 7])).toBe(errno(13));
    expect(verdict(program, 'mmap', [7, 0, 0, 0, 0, 15])).toBe(errno(13));
  });

  it('lets the first matching rule win and falls to the default when no conditional rule matches', () => {
    const program = compileSeccomp(
      withRules(
        { names: ['kill'], action: 'SCMP_ACT_ERRNO', errnoRet: 3, args: [cmp('SCMP_CMP_EQ', 9)] },
        { names: ['kill'], action: 'SCMP_ACT_ALLOW', args: [cmp('SCMP_CMP_LT', 32)] },
        { names: ['kill'], action: 'SCMP_ACT_ERRNO', errnoRet: 4, args: [cmp('SCMP_CMP_LT', 64)] },
        { names: ['kill', 'tkill'], action: 'SCMP_ACT_LOG', args: [cmp('SCMP_CMP_EQ', 9)] },
      ),
    );
    expect(verdict(program, 'kill', [1, 9])).toBe(errno(3));
    expect(verdict(program, 'kill', [1, 15])).toBe(ALLOW);
    expect(verdict(program, 'kill', [1, 40])).toBe(errno(4));
    expect(verdict(program, 'kill', [1, 99])).toBe(errno(13));
    expect(verdict(program, 'tkill', [1, 9])).toBe(0x7ffc0000);
    expect(verdict(program, 'tkill', [1, 8])).toBe(errno(13));
  });

  it('makes rules after an unconditional rule for the same syscall unreachable', () => {
    const program = compileSeccomp(
      withRules(
        { names: ['read'], action: 'SCMP_ACT_ALLOW' },
        { names: ['read'], action: 'SCMP_ACT_KILL_PROCESS', args: [cmp('SCMP_CMP_EQ', 0, undefined, 0)] },
      ),
    );
    expect(verdict(program, 'read', [0])).toBe(ALLOW);
  });
});

describe('compileSeccomp: size', () => {
  it('rejects a profile that compiles past the kernel limit', () => {
    const names = Object.keys(SYSCALLS_X86_64);
    const rules: SeccompSyscallRule[] = names.map((name, i) => ({
      names: [name],
      action: 'SCMP_ACT_ALLOW',
      args: [0, 1, 2, 3].map((index) => cmp('SCMP_CMP_EQ', i + index, undefined, index)),
    }));
    expect(() => compileSeccomp(withRules(...rules))).toThrow(expect.objectContaining({ code: 'INVALID_SECCOMP_PROFILE' }));
  });

  it('rejects a rule with more argument conditions than short jumps can span', () => {
    const args = Array.from({ length: 80 }, (_, i) => cmp('SCMP_CMP_NE', i, undefined, i % 6));
    expect(() => compileSeccomp(withRules({ names: ['read'], action: 'SCMP_ACT_ALLOW', args }))).toThrow(
      expect.objectContaining({ code: 'INVALID_SECCOMP_PROFILE', message: expect.stringContaining('read') }),
    );
    const fits = compileSeccomp(withRules({ names: ['read'], action: 'SCMP_ACT_ALLOW', args: args.slice(0, 30) }));
    expect(verdict(fits, 'read', [100, 100, 100, 100, 100, 100])).toBe(ALLOW);
    expect(verdict(fits, 'read', [100, 100, 100, 100, 100, 29])).toBe(errno(13));
  });

  it('uses long jumps for big subtrees without breaking the search', () => {
    // ~200 syscalls with conditional blocks of ~12 instructions: subtrees far beyond 255.
    const names = Object.keys(SYSCALLS_X86_64).filter((_, i) => i % 2 === 0);
    const profile = withRules(
      ...names.map((name, i): SeccompSyscallRule => ({ names: [name], action: 'SCMP_ACT_ALLOW', args: [cmp('SCMP_CMP_GT', i, undefined, 3)] })),
    );
    const program = compileSeccomp(profile);
    const insns = decodeProgram(program);
    expect(insns.some((ins) => ins.code === 0x05)).toBe(true);
    for (const [i, name] of names.entries()) {
      const expected = referenceVerdict(profile, {}, nr(name), [0n, 0n, 0n, BigInt(i + 1)]);
      expect(verdict(program, name, [0, 0, 0, i + 1])).toBe(expected);
      expect(verdict(program, name, [0, 0, 0, i])).toBe(referenceVerdict(profile, {}, nr(name), [0n, 0n, 0n, BigInt(i)]));
    }
  });
});

describe('compileSeccomp: agrees with the reference semantics on random profiles', () => {
  const interesting = [0n, 1n, 5n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x1_0000_0000n, 0x1_0000_0005n, 0xffff_ffff_ffff_ffffn];
  const actions = ['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_LOG', 'SCMP_ACT_TRAP', 'SCMP_ACT_KILL_PROCESS'] as const;
  const allNames = Object.keys(SYSCALLS_X86_64);

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('seed %i', (seed) => {
    const rand = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const value = (): bigint => {
      const base = pick(interesting);
      const r = rand();
      if (r < 0.3) return base;
      if (r < 0.5) return BigInt.asUintN(64, base + 1n);
      if (r < 0.7) return BigInt.asUintN(64, base - 1n);
      return (BigInt(Math.floor(rand() * 4)) << 32n) | BigInt(Math.floor(rand() * 2 ** 32));
    };
    const hot = Array.from({ length: 12 }, () => pick(allNames));
    const rules: SeccompSyscallRule[] = Array.from({ length: 25 }, () => {
      const action = pick(actions);
      const args = Array.from({ length: Math.floor(rand() * 3) }, (): SeccompArg => {
        const op = pick(SECCOMP_OPS);
        const index = Math.floor(rand() * 3);
        return op === 'SCMP_CMP_MASKED_EQ' ? { index, op, value: value(), valueTwo: value() & value() } : { index, op, value: value() };
      });
      const names = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(hot));
      return {
        names,
        action,
        ...(action === 'SCMP_ACT_ERRNO' && rand() < 0.5 ? { errnoRet: Math.floor(rand() * 200) } : {}),
        ...(args.length > 0 ? { args } : {}),
      };
    });
    const profile: SeccompProfile = { defaultAction: pick(actions), defaultErrnoRet: 22, syscalls: rules };
    for (const opts of [{}, { allowNestedNamespaces: true }]) {
      const program = compileSeccomp(profile, opts);
      for (const name of [...new Set(hot), 'clone', 'clone3', 'unshare', 'getpid', 'bpf']) {
        for (let trial = 0; trial < 40; trial++) {
          const args = [value(), value(), value()];
          expect(verdict(program, name, args), `${name}(${args.join(', ')})`).toBe(referenceVerdict(profile, opts, nr(name), args));
        }
      }
      for (let call = 0; call < 480; call++) {
        expect(verdict(program, call), `nr ${call}`).toBe(referenceVerdict(profile, opts, call));
      }
    }
  });
});
