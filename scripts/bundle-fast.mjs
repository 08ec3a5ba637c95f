#!/usr/bin/env node
// Bundles the CLI's fast path (dist/cli/fast/index.js and every module it imports, statically or
// lazily: run, exec, ls, start, stop, rm, completion) into a few CommonJS chunks in
// dist/cli/fast/bundle/, run by `npm run build` after tsc. bin/run.js loads them instead of the
// ~45 ES modules tsc wrote (Node links each ES module on its own, and loads CommonJS faster): that
// is most of what keeps `bkg run --rm -- true` near `node -e 0` (bench/cli.mjs). The chunks follow
// what a command runs (see GROUPS below), so a command loads only what it runs, in a few files.
// Without rolldown (a dev dependency) nothing is bundled and bin/run.js loads
// dist/cli/fast/index.js module by module.
//
// Kept out of the bundle: Node's modules and packages; and the dashboard (dist/ui: ink and React,
// only for `bkg dashboard`). The bundle holds its own copy of dist/api/errors.js: BkgError's
// `instanceof` goes by a mark every copy sets, so errors thrown by dist/ modules are still BkgErrors
// here (and requiring no ES module keeps Node's ES module loader out of a fast-path start). Each module's
// import.meta.url stays its own file's URL (the helper, templates and the manifest are found from
// it). inputs.json lists the files bundled (for people and tests), and its mtime is the bundle's:
// bin/run.js uses the bundle only while tsc's dist/.tsbuildinfo is not newer (tsc rewrites it
// whenever it writes dist/), so a later tsc alone (npm run build:ts, tsc -w) is never shadowed by it.
import { builtinModules } from 'node:module';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dist = join(root, 'dist');
const fast = join(dist, 'cli', 'fast');
const out = join(fast, 'bundle');
rmSync(out, { recursive: true, force: true }); // never leave a bundle of an older build

let rolldown;
try {
  rolldown = await import('rolldown');
} catch {
  console.error('bkg: rolldown is not installed: the CLI will load its fast path module by module (a slower start)');
  process.exit(0);
}

const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
const under = (dir, path) => {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
};
/** Our modules that stay files of their own (see above). */
const keepFile = (path) => under(join(dist, 'ui'), path);

/** Node's modules and packages: kept as they are written. */
const external = (id) => builtins.has(id) || !(id.startsWith('.') || isAbsolute(id) || id.startsWith('\0'));

/** Our modules that stay files: imported by their path from the bundle's folder (where every chunk is). */
const ownFiles = {
  name: 'bkg-own-files',
  resolveId(id, importer) {
    if (!importer || !(id.startsWith('./') || id.startsWith('../'))) return null;
    const path = resolve(dirname(importer), id);
    return keepFile(path) ? { id: relative(out, path).split(sep).join('/'), external: true } : null;
  },
};

/** import.meta.url → the URL of the module's own file in dist/, relative to the bundle's. */
const ownUrl = {
  name: 'bkg-own-import-meta-url',
  transform(code, id) {
    if (!id.endsWith('.js') || !code.includes('import.meta')) return null;
    if (/\bimport\.meta\b(?!\.url\b)/.test(code)) throw new Error(`${id}: import.meta other than import.meta.url cannot be bundled`);
    const rel = relative(out, id).split(sep).join('/');
    const url = `new URL(${JSON.stringify(rel.startsWith('.') ? rel : `./${rel}`)}, import.meta.url).href`;
    return { code: code.replace(/\bimport\.meta\.url\b/g, url), map: null };
  },
};

/**
 * Node modules that only some commands use (node:http and node:dns serve the egress proxy, which a
 * sandbox without an allowlist never starts; node:fs/promises applies a workspace's changes, only
 * with --apply; node:net checks an allowlist's addresses, and every command loads that check,
 * though `--version` and `--help` never use it) are required on first use, not when their chunk
 * loads. Chunks only read properties of them (`node_http.request`), which the proxy passes through.
 */
const LAZY = ['node:http', 'node:dns', 'node:fs/promises', 'node:net'];
const lazyBuiltins = {
  name: 'bkg-lazy-builtins',
  renderChunk(code) {
    const names = [];
    const lazy = code.replace(/^let (\w+) = require\("(node:[\w/]+)"\);$/gm, (line, name, id) => {
      if (!LAZY.includes(id)) return line;
      names.push(name);
      return `let ${name} = __bkgLazy(${JSON.stringify(id)});`;
    });
    if (!names.length) return null;
    for (const name of names) {
      if ((lazy.match(new RegExp(`\\b${name}\\b(?![.])`, 'g')) ?? []).length !== 1) throw new Error(`bundle-fast: ${name} is used other than by its properties`);
    }
    const helper = 'const __bkgLazy = (id) => { let m; return new Proxy({}, { get: (_, key) => (m ??= require(id))[key] }); };\n';
    return { code: lazy.replace(/^(?:"use strict";\n)?/, (head) => head + helper), map: null };
  },
};

/**
 * Chunks by what a command runs, not one per shared module: each file a command loads costs its
 * start a resolution, a read and a compile (~0.3 ms here), and `run --rm` loaded 13. Every command
 * loads `base` (errors, the manifest's reader, units, small CLI pieces); `client` is what talks to
 * the daemon (ls, stop, exec...), `exec` what streams an exec, `engine` what runs a sandbox in this
 * process (run): each is what its root modules import statically, so a module one imports lazily
 * (the seccomp compiler and profile parser, the egress proxy, cave.yaml projects, completion,
 * help, the interactive shell) stays a chunk of its own, loaded only by a start that uses it.
 */
const BASE = ['api/errors', 'api/units', 'api/names', 'api/egress', 'cli/fast/manifest', 'cli/env-flags', 'cli/exit-codes', 'cli/exec-output', 'cli/format'];
const ROOTS = { client: ['cli/client'], exec: ['cli/exec-command'], engine: ['cli/run-command', 'cli/context', 'cli/run-sandbox'] };
const relOf = (id) => relative(dist, id).split(sep).join('/').replace(/\.js$/, '');
function chunkGroups() {
  let groups = null;
  return (id, ctx) => {
    if (!groups) {
      groups = new Map(BASE.map((m) => [m, 'base']));
      for (const [name, roots] of Object.entries(ROOTS)) {
        const todo = roots.map((root) => join(dist, `${root}.js`));
        while (todo.length) {
          const m = todo.pop();
          const rel = relOf(m);
          if (groups.has(rel) || !under(dist, m)) continue;
          groups.set(rel, name);
          todo.push(...(ctx.getModuleInfo(m)?.importedIds ?? []));
        }
      }
    }
    return isAbsolute(id) && under(dist, id) ? (groups.get(relOf(id)) ?? null) : null;
  };
}

const t0 = Date.now();
const warnings = [];
const { output } = await rolldown.build({
  input: join(fast, 'index.js'),
  platform: 'node',
  external,
  plugins: [ownFiles, ownUrl, lazyBuiltins],
  preserveEntrySignatures: 'allow-extension', // index.cjs keeps its exports (fastCli); grouped chunks may add to them
  logLevel: 'warn',
  onLog(level, log) {
    // a module imported lazily by one and statically by another of the same group: the group decides where it lives
    if (log.code === 'INEFFECTIVE_DYNAMIC_IMPORT') return;
    warnings.push(`${level}: ${log.message}`);
  },
  output: { dir: out, format: 'cjs', strict: true, entryFileNames: 'index.cjs', chunkFileNames: '[name]-[hash].cjs', codeSplitting: { includeDependenciesRecursively: false, groups: [{ name: chunkGroups(), debugName: 'bkg-groups' }] }, minify: { compress: false, mangle: { keepNames: true }, codegen: { removeWhitespace: true, asciiOnly: true } }, comments: false, sourcemap: false },
});
// the lazy rewrite matches the bundler's output line by line: never let a change of that shape undo it unnoticed
for (const c of output) {
  const eager = c.type === 'chunk' ? LAZY.find((id) => c.code.includes(`require(${JSON.stringify(id)})`) || c.code.includes(`require(\`${id}\`)`)) : undefined;
  if (eager) throw new Error(`bundle-fast: ${c.fileName} requires ${eager} when it loads (it should on first use)`);
}
// The files it was made from, relative to dist/ (see above).
const inputs = [...new Set(output.flatMap((c) => (c.type === 'chunk' ? c.moduleIds : [])))].filter((id) => isAbsolute(id) && under(dist, id));
writeFileSync(join(out, 'inputs.json'), `${JSON.stringify(inputs.map((id) => relative(dist, id).split(sep).join('/')).sort())}\n`);
for (const w of warnings) console.error(`bkg: bundle-fast: ${w}`);
console.error(`bkg: bundled the CLI's fast path (${inputs.length} modules) into dist/cli/fast/bundle/ in ${Date.now() - t0} ms`);
