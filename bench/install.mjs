#!/usr/bin/env node
// The install footprint (issue 14): what `npm ci` leaves in node_modules, and, with --npm-ci, how
// long `npm ci` takes on a fresh clone of this checkout (its build and prune included).
//
//   node bench/install.mjs [--npm-ci] [--top N]
//
// Without --npm-ci it measures this checkout's node_modules as it is: `du` (disk blocks, the
// figure of the target) and the bytes of the files, the largest packages, and whether the GPU
// builds of node-llama-cpp are the 24 KB stand-in (README "GPU inference (opt-in)"). With --npm-ci
// it clones HEAD into a temp dir (git clone of this repository: no network but the npm registry),
// runs `npm ci` there, times it, and measures that node_modules instead; the clone is removed.
// The peer is the target itself: npm ci ≤ 90 s, node_modules ≤ 300 MB (as `du -sh` counts: MiB of disk blocks).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ROOT, hostFacts, hostLine, tempDir } from './lib/host.mjs';
import { die, parseOptions } from './lib/options.mjs';
import { ENTRIES as PRUNED } from '../scripts/prune-modules.mjs';
import { fmt, paragraph, printJson, section, table, verdict } from './lib/output.mjs';

const TARGET_MB = 300;
const TARGET_S = 90;
const OPTIONS = {
  prog: 'install-bench',
  script: 'install.mjs',
  options: {
    npmCi: { flag: '--npm-ci', type: 'boolean', env: 'BENCH_NPM_CI', help: 'time `npm ci` on a fresh clone of HEAD and measure its node_modules (about 2–3 minutes)' },
    top: { flag: '--top', type: 'int', default: 15, min: 1, smoke: 3, help: 'largest packages listed' },
  },
};

/** Bytes of each of `paths`: disk blocks (as `du -sh` counts them), or the files' bytes with `apparent`. */
function du(paths, apparent = false) {
  const out = execFileSync('du', ['-s', '-B1', ...(apparent ? ['--apparent-size'] : []), ...paths], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [n, ...p] = l.split('\t');
      return { path: p.join('\t'), bytes: Number(n) };
    });
}

/** node_modules' packages: `name` and `@scope/name` directories. */
function packages(modules) {
  const out = [];
  for (const e of readdirSync(modules)) {
    if (e.startsWith('.')) continue;
    if (e.startsWith('@')) for (const s of readdirSync(join(modules, e))) out.push(join(modules, e, s));
    else out.push(join(modules, e));
  }
  return out;
}

const MiB = (b) => b / 1024 ** 2;

function measure(root, top) {
  const modules = join(root, 'node_modules');
  if (!existsSync(modules)) die(`no node_modules in ${root} (npm ci first)`);
  const [disk] = du([modules]);
  const [data] = du([modules], true);
  const sizes = du(packages(modules)).sort((a, b) => b.bytes - a.bytes);
  const largest = sizes.slice(0, top).map((s) => ({ name: s.path.slice(modules.length + 1), mib: MiB(s.bytes) }));
  // npm puts them under node-llama-cpp's own node_modules (package.json "overrides")
  const standIn = (name) => {
    for (const dir of [join(modules, 'node-llama-cpp', 'node_modules', name), join(modules, name)]) {
      if (existsSync(join(dir, 'package.json'))) return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name === 'is-unicode-supported';
    }
    return null; // not installed
  };
  // the packages package.json's "overrides" maps to the stand-in, and what scripts/prune-modules.mjs removes
  const overrides = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).overrides ?? {};
  const gpu = Object.fromEntries(Object.keys(overrides).filter((n) => n.startsWith('@node-llama-cpp/')).map((n) => [n, standIn(n)]));
  const pruned = Object.fromEntries(PRUNED.map(([rel]) => [rel, !existsSync(join(modules, rel))]));
  return { disk_mib: MiB(disk.bytes), data_mib: MiB(data.bytes), packages: sizes.length, largest, gpu_stand_in: gpu, pruned };
}

function main() {
  const opts = parseOptions(OPTIONS);
  console.log(hostLine());
  let root = ROOT;
  let npmCi = null;
  let clone = null;
  try {
    if (opts.npmCi) {
      clone = tempDir('bkg-bench-install-');
      execFileSync('git', ['clone', '-q', ROOT, clone], { stdio: 'inherit' });
      const t0 = performance.now();
      const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: clone, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', env: { ...process.env, CI: 'true' } });
      const s = (performance.now() - t0) / 1000;
      if (r.status !== 0) die(`npm ci failed (${r.status ?? r.signal}): ${(r.stderr ?? '').slice(-2000)}`);
      npmCi = { seconds: s, met: s <= TARGET_S };
      root = clone;
    }
    const m = measure(root, opts.top);
    section(`node_modules of ${opts.npmCi ? 'a fresh clone of HEAD after `npm ci`' : 'this checkout'}`);
    table(['measurement', 'value', 'target', 'met?'], [
      ['on disk (`du -sh`: MiB of disk blocks)', fmt(m.disk_mib, 1), `≤ ${TARGET_MB}`, verdict(m.disk_mib <= TARGET_MB)],
      ['file data (`du --apparent-size`, MiB)', fmt(m.data_mib, 1), '', ''],
      ['packages', String(m.packages), '', ''],
      ...(npmCi ? [['`npm ci` (build and prune included), s', fmt(npmCi.seconds, 1), `≤ ${TARGET_S} s`, verdict(npmCi.met)]] : []),
    ]);
    section(`The ${opts.top} largest packages (du, MiB)`);
    table(['package', 'MiB'], m.largest.map((p) => [p.name, fmt(p.mib, 1)]));
    paragraph(`node-llama-cpp's builds replaced by the stand-in: ${Object.entries(m.gpu_stand_in).map(([k, v]) => `${k.replace('@node-llama-cpp/', '')} ${v === null ? 'absent' : v ? 'yes' : 'NO'}`).join(', ')}; pruned after the build: ${Object.entries(m.pruned).map(([k, v]) => `${k} ${v ? 'yes' : 'no'}`).join(', ')}.`);
    printJson({ bench: 'install', host: hostFacts(), npm_ci: npmCi, ...m, target_mb: TARGET_MB, target_s: TARGET_S, footprint_met: m.disk_mib <= TARGET_MB });
  } finally {
    if (clone) rmSync(clone, { recursive: true, force: true });
  }
}

main();
