#!/usr/bin/env node
// Run by `npm ci` (package.json "prepare", after the build): removes from node_modules what two
// packages leave behind for building themselves from source, which bkg never does. Each entry is
// removed only where the thing built from it is there; `npm ci` (or `npm rebuild`) puts them back.
//
//   node-llama-cpp/llama/gitRelease.bundle   llama.cpp's sources as a git bundle (~34 MB), for
//                                            `node-llama-cpp source build`; the daemon loads the
//                                            prebuilt binary only (getLlama({ build: 'never' })); kept
//                                            where that binary (@node-llama-cpp/linux-x64) is missing
//   better-sqlite3/build/Release/{obj,obj.target,.deps}
//                                            the compiler's intermediate files (~15 MB) of a
//                                            from-source install; the addon is better_sqlite3.node
//                                            beside them (deps/ and src/ stay: `npm rebuild` works)
//
// Prints what it removed and how much, one line.
import { existsSync, lstatSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const MODULES = fileURLToPath(new URL('../node_modules', import.meta.url));

/** [path to remove, the file that must exist for it to go] */
export const ENTRIES = [
  ['node-llama-cpp/llama/gitRelease.bundle', '@node-llama-cpp/linux-x64/package.json'],
  ['better-sqlite3/build/Release/obj', 'better-sqlite3/build/Release/better_sqlite3.node'],
  ['better-sqlite3/build/Release/obj.target', 'better-sqlite3/build/Release/better_sqlite3.node'],
  ['better-sqlite3/build/Release/.deps', 'better-sqlite3/build/Release/better_sqlite3.node'],
];

function bytesOf(path) {
  const st = lstatSync(path);
  if (!st.isDirectory()) return st.size;
  let n = 0;
  for (const e of readdirSync(path)) n += bytesOf(join(path, e));
  return n;
}

function prune() {
  let freed = 0;
  const removed = [];
  for (const [rel, needs] of ENTRIES) {
    const path = join(MODULES, rel);
    if (!existsSync(path) || !existsSync(join(MODULES, needs))) continue;
    freed += bytesOf(path);
    rmSync(path, { recursive: true, force: true });
    removed.push(rel);
  }
  console.log(`bkg: pruned ${removed.length ? removed.join(', ') : 'nothing'} from node_modules (${(freed / 1024 ** 2).toFixed(1)} MiB)`);
}

// run as a script (npm's "prepare"); bench/install.mjs imports ENTRIES only
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) prune();
