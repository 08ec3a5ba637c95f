#!/usr/bin/env node
// Generates src/runtime/seccomp/syscalls-x86_64.ts, the x86_64 syscall name → number table the
// seccomp compiler uses, from the kernel UAPI header. The output is committed so builds need no
// kernel headers; rerun this after upgrading linux-libc-dev.
//
//   node scripts/gen-syscalls.mjs [path/to/unistd_64.h]
//
// Syscalls newer than the header are taken from NEWER_SYSCALLS below (numbers from the kernel's
// arch/x86/entry/syscalls/syscall_64.tbl); a header that defines one wins over the list.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DEFAULT_HEADER = '/usr/include/x86_64-linux-gnu/asm/unistd_64.h';
const OUTPUT = fileURLToPath(new URL('../src/runtime/seccomp/syscalls-x86_64.ts', import.meta.url));

/** x86_64 syscalls added after Linux 6.4 (the header may be older than the kernels we run on). */
const NEWER_SYSCALLS = {
  cachestat: 451,
  fchmodat2: 452,
  map_shadow_stack: 453,
  futex_wake: 454,
  futex_wait: 455,
  futex_requeue: 456,
  statmount: 457,
  listmount: 458,
  lsm_get_self_attr: 459,
  lsm_set_self_attr: 460,
  lsm_list_modules: 461,
  mseal: 462,
  setxattrat: 463,
  getxattrat: 464,
  listxattrat: 465,
  removexattrat: 466,
  open_tree_attr: 467,
  file_getattr: 468,
  file_setattr: 469,
};

const header = process.argv[2] ?? DEFAULT_HEADER;
const text = readFileSync(header, 'utf8');

const table = new Map();
for (const match of text.matchAll(/^#define\s+__NR_([A-Za-z0-9_]+)\s+(\d+)\s*$/gm)) {
  const [, name, num] = match;
  table.set(name, Number(num));
}
if (table.size < 300 || table.get('read') !== 0 || table.get('execve') !== 59) {
  throw new Error(`${header} does not look like the x86_64 unistd_64.h (found ${table.size} syscalls)`);
}
for (const [name, num] of Object.entries(NEWER_SYSCALLS)) {
  if (!table.has(name)) table.set(name, num);
}

const byNumber = new Map();
for (const [name, num] of table) {
  const clash = byNumber.get(num);
  if (clash !== undefined) throw new Error(`syscall number ${num} is both ${clash} and ${name}`);
  byNumber.set(num, name);
}

const entries = [...table].sort((a, b) => a[1] - b[1]);
const lines = [
  '// GENERATED FILE — do not edit. Regenerate with `node scripts/gen-syscalls.mjs`.',
  `// Source: ${header} (plus the newer syscalls listed in the script).`,
  '',
  '/** x86_64 syscall numbers by name (the native 64-bit ABI; x32 numbers are these | 0x40000000). */',
  'export const SYSCALLS_X86_64: Readonly<Record<string, number>> = Object.freeze({',
  ...entries.map(([name, num]) => `  ${name}: ${num},`),
  '});',
  '',
];
writeFileSync(OUTPUT, lines.join('\n'));
console.log(`wrote ${entries.length} syscalls (0..${entries.at(-1)[1]}) to ${OUTPUT}`);
