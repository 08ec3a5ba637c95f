#!/usr/bin/env node
// Bundles the dashboard's interactive part (dist/ui/app.js with ink and React: ~500 modules) into
// one file, dist/ui/app.bundle.js, run by `npm run build` after tsc: loading it takes a third of the
// time, which is what keeps `bkg dashboard`'s first frame under 500 ms. Our own modules outside
// dist/ui (the client, the contract) stay imports of the files tsc wrote, so that there is one copy
// of each (BkgError is one class). Without rolldown (a dev dependency) nothing is bundled and the
// dashboard loads the modules one by one (src/ui/launch.ts), only slower.
import { builtinModules } from 'node:module';
import { rmSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const ui = join(root, 'dist', 'ui');
const out = join(ui, 'app.bundle.js');
rmSync(out, { force: true }); // never leave a bundle of an older build

let rolldown;
try {
  rolldown = await import('rolldown');
} catch {
  console.error('bkg: rolldown is not installed: the dashboard will load ink module by module (a slower start)');
  process.exit(0);
}

const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
/** Kept as imports: Node's modules, our modules outside dist/ui. */
function external(id, importer) {
  if (builtins.has(id)) return true;
  const inside = (path) => {
    const rel = relative(ui, path);
    return !rel.startsWith('..') && !isAbsolute(rel);
  };
  // a relative import from our own code that leaves dist/ui
  if (importer && inside(importer) && (id.startsWith('./') || id.startsWith('../'))) return !inside(resolve(dirname(importer), id));
  return false;
}

/** ink connects to React's devtools when DEV=true (react-devtools-core, ws): not in the bundle. */
const noDevtools = {
  name: 'bkg-no-devtools',
  resolveId(id, importer) {
    return id === './devtools.js' && importer && /[\\/]ink[\\/]build[\\/]/.test(importer) ? '\0bkg-no-devtools' : null;
  },
  load(id) {
    return id === '\0bkg-no-devtools' ? "throw new Error('the bundled dashboard has no React devtools');" : null;
  },
};

const t0 = Date.now();
await rolldown.build({
  input: join(ui, 'app.js'),
  platform: 'node',
  external,
  plugins: [noDevtools],
  logLevel: 'warn',
  transform: { define: { 'process.env.NODE_ENV': '"production"' } },
  output: { file: out, format: 'esm', codeSplitting: false, minify: true, sourcemap: false },
});
console.error(`bkg: bundled the dashboard into dist/ui/app.bundle.js in ${Date.now() - t0} ms`);
