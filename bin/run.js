#!/usr/bin/env node
// bkg / cavectl entry shim. The fast path (dist/cli/fast/) answers --version and help and runs the
// everyday commands (exec, run, ls, start, stop, rm) without loading oclif; it hands anything else,
// as (possibly rewritten) arguments, to oclif, which loads dist/commands through oclif.manifest.json.
const { fastCli } = await import('../dist/cli/fast/index.js');
const handled = await fastCli(process.argv.slice(2));
if (typeof handled === 'number') {
  process.exitCode = handled;
} else {
  const { execute } = await import('@oclif/core');
  await execute({ dir: import.meta.url, args: handled });
}
