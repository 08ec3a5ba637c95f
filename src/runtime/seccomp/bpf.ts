/**
 * Classic BPF as seccomp uses it: opcodes, return values, the seccomp_data layout and the
 * struct sock_filter wire format (u16 code, u8 jt, u8 jf, u32 k; little endian, 8 bytes).
 */

export interface SockFilter {
  readonly code: number;
  /** Relative jump (0..255) taken when the condition holds. */
  readonly jt: number;
  /** Relative jump (0..255) taken when it does not. */
  readonly jf: number;
  readonly k: number;
}

/** Opcode building blocks (linux/bpf_common.h). */
export const BPF = {
  // classes
  LD: 0x00,
  LDX: 0x01,
  ST: 0x02,
  STX: 0x03,
  ALU: 0x04,
  JMP: 0x05,
  RET: 0x06,
  MISC: 0x07,
  // sizes / modes
  W: 0x00,
  H: 0x08,
  B: 0x10,
  IMM: 0x00,
  ABS: 0x20,
  IND: 0x40,
  MEM: 0x60,
  LEN: 0x80,
  MSH: 0xa0,
  // alu ops
  ADD: 0x00,
  SUB: 0x10,
  MUL: 0x20,
  DIV: 0x30,
  OR: 0x40,
  AND: 0x50,
  LSH: 0x60,
  RSH: 0x70,
  NEG: 0x80,
  MOD: 0x90,
  XOR: 0xa0,
  // jump ops
  JA: 0x00,
  JEQ: 0x10,
  JGT: 0x20,
  JGE: 0x30,
  JSET: 0x40,
  // sources / return values
  K: 0x00,
  X: 0x08,
  A: 0x10,
  // misc
  TAX: 0x00,
  TXA: 0x80,
} as const;

/** The opcodes the compiler emits. */
export const OP = {
  LD_W_ABS: BPF.LD | BPF.W | BPF.ABS,
  ALU_AND_K: BPF.ALU | BPF.AND | BPF.K,
  JA: BPF.JMP | BPF.JA,
  JEQ_K: BPF.JMP | BPF.JEQ | BPF.K,
  JGT_K: BPF.JMP | BPF.JGT | BPF.K,
  JGE_K: BPF.JMP | BPF.JGE | BPF.K,
  JSET_K: BPF.JMP | BPF.JSET | BPF.K,
  RET_K: BPF.RET | BPF.K,
} as const;

/** seccomp filter return values (linux/seccomp.h). */
export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
  ACTION_FULL: 0xffff0000,
  DATA: 0x0000ffff,
} as const;

export const AUDIT_ARCH_X86_64 = 0xc000003e;
/** Syscall numbers with this bit set are the x32 ABI on an x86_64 kernel. */
export const X32_SYSCALL_BIT = 0x40000000;
export const EPERM = 1;
export const ENOSYS = 38;

/** Byte offsets in struct seccomp_data. */
export const SECCOMP_DATA = {
  NR: 0,
  ARCH: 4,
  INSTRUCTION_POINTER: 8,
  ARGS: 16,
  SIZE: 64,
} as const;

/** The kernel refuses filters longer than this (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;
export const SOCK_FILTER_SIZE = 8;

/** Offset of the low (+0) or high (+4) 32-bit word of syscall argument `index` (little endian). */
export function argOffset(index: number, half: 'lo' | 'hi'): number {
  return SECCOMP_DATA.ARGS + 8 * index + (half === 'hi' ? 4 : 0);
}

export function stmt(code: number, k: number): SockFilter {
  return { code, jt: 0, jf: 0, k: k >>> 0 };
}

export function jump(code: number, k: number, jt: number, jf: number): SockFilter {
  return { code, jt, jf, k: k >>> 0 };
}

export function encodeProgram(insns: readonly SockFilter[]): Buffer {
  const buf = Buffer.alloc(insns.length * SOCK_FILTER_SIZE);
  insns.forEach((ins, i) => {
    const at = i * SOCK_FILTER_SIZE;
    buf.writeUInt16LE(ins.code, at);
    buf.writeUInt8(ins.jt, at + 2);
    buf.writeUInt8(ins.jf, at + 3);
    buf.writeUInt32LE(ins.k >>> 0, at + 4);
  });
  return buf;
}

export function decodeProgram(program: Buffer): SockFilter[] {
  if (program.length % SOCK_FILTER_SIZE !== 0) {
    throw new Error(`BPF program length ${program.length} is not a multiple of ${SOCK_FILTER_SIZE}`);
  }
  const insns: SockFilter[] = [];
  for (let at = 0; at < program.length; at += SOCK_FILTER_SIZE) {
    insns.push({
      code: program.readUInt16LE(at),
      jt: program.readUInt8(at + 2),
      jf: program.readUInt8(at + 3),
      k: program.readUInt32LE(at + 4),
    });
  }
  return insns;
}
