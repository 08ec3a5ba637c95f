#!/usr/bin/env node
// Opt a host in to node-llama-cpp's GPU (or ARM) prebuilt binaries.
//
//   node scripts/llama-gpu.mjs cuda|vulkan|arm64|armv7l
//
// `npm ci` does not install them: package.json's "overrides" map @node-llama-cpp/linux-x64-cuda,
// -cuda-ext, -vulkan, -arm64 and -armv7l to a 24 KB stand-in (about 630 MB saved on every CPU-only
// x86_64 host). node-llama-cpp imports the stand-in, finds no binaries in it and uses its CPU build.
// This script puts the real package, at node-llama-cpp's own version, where node-llama-cpp looks:
// `npm pack` fetches it from the registry (npm checks its integrity), and it is unpacked over the
// stand-in. package.json and package-lock.json stay as they are, so the next `npm ci` puts the
// stand-in back: run this again after it.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BACKENDS = {
  cuda: ['linux-x64-cuda', 'linux-x64-cuda-ext'],
  vulkan: ['linux-x64-vulkan'],
  arm64: ['linux-arm64'],
  armv7l: ['linux-armv7l'],
};
const die = (msg) => {
  console.error(`llama-gpu: ${msg}`);
  process.exit(1);
};

const backend = process.argv[2];
if (!BACKENDS[backend]) die(`usage: node scripts/llama-gpu.mjs ${Object.keys(BACKENDS).join('|')}`);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nlc = join(root, 'node_modules', 'node-llama-cpp');
if (!existsSync(join(nlc, 'package.json'))) die('node_modules/node-llama-cpp is missing: run `npm ci` first');
const version = JSON.parse(readFileSync(join(nlc, 'package.json'), 'utf8')).version;
const tmp = mkdtempSync(join(tmpdir(), 'bkg-llama-gpu-'));
try {
  for (const name of BACKENDS[backend]) {
    const spec = `@node-llama-cpp/${name}@${version}`;
    // where node-llama-cpp's import() finds it: its own node_modules first, then the top level
    const nested = join(nlc, 'node_modules', '@node-llama-cpp', name);
    const dest = existsSync(nested) ? nested : join(root, 'node_modules', '@node-llama-cpp', name);
    console.log(`llama-gpu: fetching ${spec}`);
    const [{ filename }] = JSON.parse(execFileSync('npm', ['pack', spec, '--json', '--pack-destination', tmp], { cwd: tmp, encoding: 'utf8' }));
    rmSync(dest, { recursive: true, force: true });
    mkdirSync(dest, { recursive: true });
    execFileSync('tar', ['-xzf', join(tmp, filename), '-C', dest, '--strip-components=1']);
    // check it the way node-llama-cpp does (getBinariesPathFromModules): getBinsDir() at its version
    const check = `const m = await import(${JSON.stringify(`@node-llama-cpp/${name}`)}); const b = m.getBinsDir?.(); if (b?.packageVersion !== ${JSON.stringify(version)}) { console.error(JSON.stringify(b ?? null)); process.exit(1); }`;
    execFileSync(process.execPath, ['--input-type=module', '-e', check], { cwd: nlc, stdio: 'inherit' });
    console.log(`llama-gpu: ${spec} installed in ${dest}`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
