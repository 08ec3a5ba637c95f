// The floor under any `bkg run --rm` that Node starts (bench/cli.mjs): Node runs the helper with a
// spec and seccomp program made beforehand (files), as the engine does for the CLI's throwaway run
// (runHelperBlocking: one spawnSync, the spec and program on unnamed files as descriptors 3 and 4,
// status lines to a third on 5, read once the helper is gone), and exits with its status. It loads
// nothing but node:child_process and node:fs.
//   node bench/lib/spawn-helper.cjs HELPER SPEC_FILE SECCOMP_FILE
'use strict';
const { spawnSync } = require('node:child_process');
const { closeSync, constants, fstatSync, openSync, readFileSync, readSync, writeSync } = require('node:fs');

const [helper, specFile, seccompFile] = process.argv.slice(2);
const O_TMPFILE = 0o20000000 | constants.O_DIRECTORY;
const unnamed = (data) => {
  const fd = openSync(process.env.TMPDIR || '/tmp', O_TMPFILE | constants.O_RDWR, 0o600);
  if (data) writeSync(fd, data, 0, data.length, 0);
  return fd;
};
const spec = unnamed(readFileSync(specFile));
const seccomp = unnamed(readFileSync(seccompFile));
const status = unnamed(null);
const r = spawnSync(helper, ['--args', '3', '--json-status-fd', '5', '--seccomp', '4'], {
  stdio: ['inherit', 'inherit', 'inherit', spec, seccomp, status], env: {}, argv0: 'bkg-helper',
});
const out = Buffer.alloc(fstatSync(status).size);
readSync(status, out, 0, out.length, 0);
for (const fd of [spec, seccomp, status]) closeSync(fd);
if (!out.toString().includes('"exited"')) throw new Error(`the helper reported no exit: ${out}`);
process.exitCode = r.status ?? 1;
