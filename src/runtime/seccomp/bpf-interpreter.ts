/**
 * A classic-BPF interpreter for seccomp filters, for tests and debugging: it runs a program
 * against one struct seccomp_data and returns the filter's 32-bit verdict. It accepts what the
 * kernel's seccomp checker accepts (32-bit loads of seccomp_data, ALU, jumps, scratch memory,
 * RET K/A, TAX/TXA) and throws on anything else, as the kernel would refuse to load it.
 */
import { BPF, BPF_MAXINSNS, SECCOMP_DATA, decodeProgram } from './bpf.js';

export interface SeccompDataInput {
  readonly nr: number;
  readonly arch: number;
  readonly instructionPointer?: bigint;
  /** Up to six 64-bit arguments; missing ones are 0. */
  readonly args?: readonly bigint[];
}

const SCRATCH_SLOTS = 16;

function seccompData(data: SeccompDataInput): Buffer {
  const buf = Buffer.alloc(SECCOMP_DATA.SIZE);
  buf.writeUInt32LE(data.nr >>> 0, SECCOMP_DATA.NR);
  buf.writeUInt32LE(data.arch >>> 0, SECCOMP_DATA.ARCH);
  buf.writeBigUInt64LE(BigInt.asUintN(64, data.instructionPointer ?? 0n), SECCOMP_DATA.INSTRUCTION_POINTER);
  const args = data.args ?? [];
  if (args.length > 6) throw new Error('seccomp_data has at most 6 arguments');
  args.forEach((arg, i) => buf.writeBigUInt64LE(BigInt.asUintN(64, arg), SECCOMP_DATA.ARGS + 8 * i));
  return buf;
}

function alu(op: number, a: number, operand: number): number {
  switch (op) {
    case BPF.ADD: return (a + operand) >>> 0;
    case BPF.SUB: return (a - operand) >>> 0;
    case BPF.MUL: return Math.imul(a, operand) >>> 0;
    case BPF.DIV: return Math.floor(a / operand) >>> 0;
    case BPF.MOD: return a % operand >>> 0;
    case BPF.OR: return (a | operand) >>> 0;
    case BPF.AND: return (a & operand) >>> 0;
    case BPF.XOR: return (a ^ operand) >>> 0;
    case BPF.LSH: return operand >= 32 ? 0 : (a << operand) >>> 0;
    case BPF.RSH: return operand >= 32 ? 0 : a >>> operand;
    case BPF.NEG: return -a >>> 0;
    default: throw new Error(`unknown BPF ALU op 0x${op.toString(16)}`);
  }
}

/** Run `program` (struct sock_filter records) on one syscall; returns the SECCOMP_RET_* value. */
export function runSeccompFilter(program: Buffer, data: SeccompDataInput): number {
  const insns = decodeProgram(program);
  if (insns.length === 0 || insns.length > BPF_MAXINSNS) throw new Error(`BPF program has ${insns.length} instructions`);
  const mem = seccompData(data);
  const scratch = new Array<number>(SCRATCH_SLOTS).fill(0);
  let a = 0;
  let x = 0;

  const load = (k: number): number => {
    if (k % 4 !== 0 || k + 4 > SECCOMP_DATA.SIZE) throw new Error(`BPF load at offset ${k} is outside seccomp_data`);
    return mem.readUInt32LE(k);
  };
  const slot = (k: number): number => {
    if (k >= SCRATCH_SLOTS) throw new Error(`BPF scratch slot ${k} out of range`);
    return k;
  };

  for (let pc = 0; pc < insns.length; pc++) {
    const ins = insns[pc];
    if (!ins) break;
    const { code, k } = ins;
    const cls = code & 0x07;
    switch (cls) {
      case BPF.LD:
        if (code === (BPF.LD | BPF.W | BPF.ABS)) a = load(k);
        else if (code === (BPF.LD | BPF.W | BPF.LEN)) a = SECCOMP_DATA.SIZE;
        else if (code === (BPF.LD | BPF.IMM)) a = k;
        else if (code === (BPF.LD | BPF.MEM)) a = scratch[slot(k)] ?? 0;
        else throw new Error(`BPF load 0x${code.toString(16)} is not allowed in seccomp filters`);
        break;
      case BPF.LDX:
        if (code === (BPF.LDX | BPF.W | BPF.LEN)) x = SECCOMP_DATA.SIZE;
        else if (code === (BPF.LDX | BPF.IMM)) x = k;
        else if (code === (BPF.LDX | BPF.MEM)) x = scratch[slot(k)] ?? 0;
        else throw new Error(`BPF load 0x${code.toString(16)} is not allowed in seccomp filters`);
        break;
      case BPF.ST:
        scratch[slot(k)] = a;
        break;
      case BPF.STX:
        scratch[slot(k)] = x;
        break;
      case BPF.ALU: {
        const op = code & 0xf0;
        const operand = (code & BPF.X) !== 0 ? x : k;
        if ((op === BPF.DIV || op === BPF.MOD) && operand === 0) {
          if ((code & BPF.X) === 0) throw new Error('BPF division by constant zero');
          return 0; // classic BPF: division by X == 0 ends the program with 0
        }
        a = alu(op, a, operand);
        break;
      }
      case BPF.JMP: {
        const op = code & 0xf0;
        let offset: number;
        if (op === BPF.JA) {
          offset = k;
        } else {
          const operand = (code & BPF.X) !== 0 ? x : k;
          let taken: boolean;
          if (op === BPF.JEQ) taken = a === operand;
          else if (op === BPF.JGT) taken = a > operand;
          else if (op === BPF.JGE) taken = a >= operand;
          else if (op === BPF.JSET) taken = (a & operand) !== 0;
          else throw new Error(`unknown BPF jump 0x${code.toString(16)}`);
          offset = taken ? ins.jt : ins.jf;
        }
        if (pc + 1 + offset >= insns.length) throw new Error(`BPF jump at ${pc} leaves the program`);
        pc += offset;
        break;
      }
      case BPF.RET:
        if ((code & 0x18) === BPF.K) return k >>> 0;
        if ((code & 0x18) === BPF.A) return a >>> 0;
        throw new Error(`BPF return 0x${code.toString(16)} is not allowed in seccomp filters`);
      case BPF.MISC:
        if (code === (BPF.MISC | BPF.TAX)) x = a;
        else if (code === (BPF.MISC | BPF.TXA)) a = x;
        else throw new Error(`unknown BPF misc op 0x${code.toString(16)}`);
        break;
    }
  }
  throw new Error('BPF program ran off its end without returning');
}
