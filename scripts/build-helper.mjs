#!/usr/bin/env node
// Builds helper/build/bkg-helper from source (run by `npm ci` through the prepare script).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const cc = process.env.CC ?? 'cc';
if (process.platform !== 'linux') {
  console.error('bkg: the sandbox helper needs Linux; skipping its build on ' + process.platform + '.');
  process.exit(0);
}
const probe = spawnSync(cc, ['--version'], { stdio: 'ignore' });
if (probe.error || probe.status !== 0) {
  console.error(`bkg: no C compiler found ("${cc}"). Install one (Debian/Ubuntu: apt-get install gcc libc6-dev make) and run \`npm run build:helper\`.`);
  process.exit(1);
}
const make = spawnSync('make', ['-C', join(root, 'helper'), `CC=${cc}`], { stdio: ['ignore', 'inherit', 'inherit'] });
if (make.error) {
  console.error('bkg: `make` is needed to build the helper (apt-get install make): ' + make.error.message);
  process.exit(1);
}
process.exit(make.status ?? 1);
