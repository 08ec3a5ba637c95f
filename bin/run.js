#!/usr/bin/env node
// bkg / cavectl entry shim. The fast path (dist/cli/fast/) answers --version and help and runs the
// everyday commands (exec, run, ls, start, stop, rm) without loading oclif; it hands anything else,
// as (possibly rewritten) arguments, to oclif, which loads dist/commands through oclif.manifest.json.
//
// The fast path loads from its bundle when the build made one (dist/cli/fast/bundle/, by
// scripts/bundle-fast.mjs: a few CommonJS chunks, which Node loads faster than ~45 ES modules) and
// it is newer than every file it was made from; otherwise (no bundle, tsc ran since, or a Node
// without require() of ES modules, which the bundle needs for dist/api/errors.js) module by module.
import { createRequire } from 'node:module';

// node:fs through require: its ES module facade would load all of node:stream on the way
const require = createRequire(import.meta.url);
const { readFileSync, statSync } = require('node:fs');
const { fileURLToPath } = require('node:url');

function bundle() {
  if (process.features.require_module !== true) return null;
  const dist = fileURLToPath(new URL('../dist/', import.meta.url));
  const dir = `${dist}cli/fast/bundle/`;
  try {
    const made = statSync(`${dir}inputs.json`).mtimeMs;
    if (!JSON.parse(readFileSync(`${dir}inputs.json`, 'utf8')).every((f) => statSync(dist + f).mtimeMs <= made)) return null;
  } catch {
    return null;
  }
  return require(`${dir}index.cjs`);
}

const { fastCli } = bundle() ?? (await import('../dist/cli/fast/index.js'));
const handled = await fastCli(process.argv.slice(2));
if (typeof handled === 'number') {
  process.exitCode = handled;
} else {
  const { execute } = await import('@oclif/core');
  await execute({ dir: import.meta.url, args: handled });
}
