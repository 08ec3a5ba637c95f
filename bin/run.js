#!/usr/bin/env node
// bkg / cavectl entry shim. `bkg exec NAME -- CMD` (the command run in loops) takes a fast path
// without oclif when it can; everything else goes to oclif, which loads dist/commands.
const args = process.argv.slice(2);
const fast = args[0] === 'exec' ? await (await import('../dist/cli/fast-exec.js')).fastExec(args.slice(1)) : null;
if (fast !== null) {
  process.exitCode = fast;
} else {
  const { execute } = await import('@oclif/core');
  await execute({ dir: import.meta.url });
}
