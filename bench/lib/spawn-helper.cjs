// The floor under any `bkg run --rm` that Node starts (bench/cli.mjs): Node spawns the helper with a
// spec and seccomp program made beforehand (files), as the engine does (descriptors 3-6 are pipes:
// spec, program, status, hold), waits for its 'exited' status line and its exit, and exits with its
// status. It loads nothing but node:child_process and node:fs.
//   node bench/lib/spawn-helper.cjs HELPER SPEC_FILE SECCOMP_FILE
'use strict';
const { spawn } = require('node:child_process');
const { readFileSync } = require('node:fs');

const [helper, specFile, seccompFile] = process.argv.slice(2);
const child = spawn(helper, ['--args', '3', '--json-status-fd', '5', '--hold-fd', '6', '--seccomp', '4'], {
  stdio: ['inherit', 'inherit', 'inherit', 'pipe', 'pipe', 'pipe', 'pipe'], env: {}, argv0: 'bkg-helper',
});
child.stdio[3].end(readFileSync(specFile));
child.stdio[4].end(readFileSync(seccompFile));
let status = '';
child.stdio[5].setEncoding('utf8').on('data', (d) => {
  status += d;
  if (status.includes('"exited"')) child.stdio[6].end();
});
child.on('close', (code) => {
  process.exitCode = code ?? 1;
});
