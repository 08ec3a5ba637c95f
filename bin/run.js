#!/usr/bin/env node
// bkg / cavectl entry shim. The fast path (dist/cli/fast/) answers --version and help and runs the
// everyday commands (exec, run, ls, start, stop, rm) without loading oclif; it hands anything else,
// as (possibly rewritten) arguments, to oclif, which loads dist/commands through oclif.manifest.json.
//
// This file is CommonJS (bin/package.json), and so is the fast path's bundle (dist/cli/fast/bundle/,
// by scripts/bundle-fast.mjs: a few chunks, which Node loads faster than ~45 ES modules): a
// fast-path command never starts Node's ES module loader. The bundle is used when the build made one
// and tsc has not written dist/ since: tsc builds incrementally (tsconfig.build.json) and rewrites
// dist/.tsbuildinfo whenever it writes anything, so one stat tells (not one per bundled file).
// Otherwise (no bundle, or tsc ran since) the fast path loads module by module from dist/, as ES
// modules.
'use strict';
const { statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');

function bundle() {
  const dist = join(root, 'dist') + '/';
  const dir = `${dist}cli/fast/bundle/`;
  try {
    if (statSync(`${dist}.tsbuildinfo`).mtimeMs > statSync(`${dir}inputs.json`).mtimeMs) return null;
  } catch {
    return null;
  }
  return require(`${dir}index.cjs`);
}

async function main() {
  const { fastCli } = bundle() ?? (await import('../dist/cli/fast/index.js'));
  const handled = await fastCli(process.argv.slice(2));
  if (typeof handled === 'number') {
    process.exitCode = handled;
    return;
  }
  const { execute } = await import('@oclif/core');
  // oclif finds the package from here (package.json with its "oclif" section), not from bin/
  await execute({ dir: root, args: handled });
}

main().catch((err) => {
  // the fast path and oclif report their own errors; this is only for a failure to load them
  process.stderr.write(`bkg: ${err && err.stack ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
