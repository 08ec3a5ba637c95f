/** Build the helper, dist/, the command manifest, the default seccomp programs, the dashboard's bundle and the CLI's fast-path bundle once, so CLI tests run exactly what `npm ci` produces. */
import { execFileSync } from 'node:child_process';
import { reapOrphanedTestSandboxes } from './helpers/orphans.js';

export default function setup(): () => void {
  execFileSync('make', ['-s', '-C', 'helper'], { stdio: 'inherit' });
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  execFileSync(process.execPath, ['scripts/gen-manifest.mjs'], { stdio: 'inherit' });
  execFileSync(process.execPath, ['scripts/gen-seccomp.mjs'], { stdio: 'inherit' });
  execFileSync(process.execPath, ['scripts/bundle-ui.mjs'], { stdio: 'inherit' });
  // last: the CLI's fast path runs from its bundle only while the bundle is newer than dist/ (bin/run.js)
  execFileSync(process.execPath, ['scripts/bundle-fast.mjs'], { stdio: 'inherit' });
  // after the run: the sandboxes tests left running in homes they removed
  return () => {
    const n = reapOrphanedTestSandboxes();
    if (n) console.log(`test teardown: stopped ${n} sandbox(es) left running in removed test homes`);
  };
}
