#!/usr/bin/env node
// Cold start of `/bin/true` through bkg-helper with every feature on, measured side by side with
// peers in one run: plain /bin/true, `unshare -Urpmn --fork`, bubblewrap (if installed) and
// bkg-helper. The helper's spec comes from the real runtime code in dist/ (detectHost, planCgroups,
// buildHelperSpec, compileSeccomp), so what is timed is what `bkg run` asks the helper to do.
//
//   sudo node bench/cold-start.mjs [--iterations N] [--warmup N] [--breakdown]
//
// Needs root (cgroups, id-mapped workspace), a built helper (make -C helper) and a compiled
// dist/ (npx tsc -p tsconfig.build.json). See bench/README.md.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountCount, percentile, which } from './lib.mjs';

const LIMITS = { memoryBytes: 256 << 20, cpus: 1, pids: 128, diskBytes: 64 << 20, timeoutMs: 30000 };

function usage(code) {
  console.log(`usage: node bench/cold-start.mjs [--iterations N] [--warmup N] [--breakdown]

  --iterations N  measured runs per variant (default 300, or $BENCH_ITERATIONS)
  --warmup N      unmeasured runs per variant first (default 20, or $BENCH_WARMUP)
  --breakdown     also time bkg-helper with one feature left out at a time
                  (no seccomp, no cgroups, no workspace overlay), to see what costs what`);
  process.exit(code);
}

function die(msg) {
  console.error(`cold-start: ${msg}`);
  process.exit(1);
}

function positiveInt(value, what) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || (what === 'iterations' && n < 1)) die(`--${what} needs a ${what === 'iterations' ? 'positive' : 'non-negative'} integer, got "${value}"`);
  return n;
}

function parseArgs(argv) {
  const opts = { iterations: process.env.BENCH_ITERATIONS ?? '300', warmup: process.env.BENCH_WARMUP ?? '20', breakdown: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => inline ?? argv[++i] ?? die(`${flag} needs a value`);
    if (flag === '--iterations' || flag === '-n') opts.iterations = value();
    else if (flag === '--warmup') opts.warmup = value();
    else if (flag === '--breakdown') opts.breakdown = true;
    else if (flag === '--help' || flag === '-h') usage(0);
    else die(`unknown argument "${argv[i]}" (try --help)`);
  }
  return { iterations: positiveInt(opts.iterations, 'iterations'), warmup: positiveInt(opts.warmup, 'warmup'), breakdown: opts.breakdown };
}


async function loadRuntime() {
  try {
    const [host, cgroups, spec, seccomp] = await Promise.all([
      import('../dist/runtime/host.js'),
      import('../dist/runtime/cgroups.js'),
      import('../dist/runtime/spec.js'),
      import('../dist/runtime/seccomp/index.js'),
    ]);
    return { ...host, ...cgroups, ...spec, ...seccomp };
  } catch (err) {
    return die(`cannot load the compiled runtime from dist/ (run \`npx tsc -p tsconfig.build.json\` first): ${err.message}`);
  }
}

/** Nearest-rank percentile of a sorted array. */

function summarize(samplesMs) {
  const s = [...samplesMs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  const sd = Math.sqrt(s.reduce((a, b) => a + (b - mean) ** 2, 0) / s.length);
  return { median_ms: percentile(s, 50), p90_ms: percentile(s, 90), p99_ms: percentile(s, 99), mean_ms: mean, min_ms: s[0], max_ms: s[s.length - 1], stddev_ms: sd };
}

/** Cgroup directories that exist under the bases bkg uses (bkg's own parents), by full path. */
function cgroupChildren(layout) {
  const bases = layout.version === 2 ? [layout.base] : layout.version === 1 ? [...layout.bases.values()] : [];
  const out = [];
  for (const base of bases) {
    try {
      for (const e of readdirSync(base, { withFileTypes: true })) if (e.isDirectory()) out.push(join(base, e.name));
    } catch {
      /* base missing: nothing can leak there */
    }
  }
  return out;
}


function treeDigest(dir) {
  const h = createHash('sha256');
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      const st = statSync(p);
      h.update(`${p}\0${st.mode}\0${st.uid}\0${st.size}\0`);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) h.update(readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle(list, rand) {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [list[i], list[j]] = [list[j], list[i]];
  }
  return list;
}

function fmt(n, digits = 3) {
  return n.toFixed(digits);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.platform !== 'linux') die('needs Linux');
  if (process.getuid?.() !== 0) die('must run as root (bkg then creates cgroups and id-maps the workspace, as in production): sudo node bench/cold-start.mjs');
  const rt = await loadRuntime();

  const host = rt.detectHost();
  if (!existsSync(host.helperPath)) die(`helper not found at ${host.helperPath} (build it: make -C helper)`);
  const seccompProgram = rt.compileSeccomp(rt.defaultSeccompProfile());

  // Scratch: a workspace with a few files (mounted copy-on-write at /workspace) and a directory for
  // the two descriptor files (spec, seccomp program), kept out of the workspace.
  const scratch = realpathSync(mkdtempSync(join(tmpdir(), 'bkg-bench-')));
  const workspace = join(scratch, 'workspace');
  const io = join(scratch, 'io');
  mkdirSync(workspace);
  mkdirSync(io);
  mkdirSync(join(workspace, 'src'));
  writeFileSync(join(workspace, 'README.md'), '# bench workspace\n');
  writeFileSync(join(workspace, 'src', 'main.c'), 'int main(void) { return 0; }\n');
  writeFileSync(join(workspace, 'src', 'util.py'), 'def f():\n    return 42\n');
  writeFileSync(join(workspace, 'data.bin'), Buffer.alloc(64 * 1024, 7));
  const specPath = join(io, 'spec');
  const seccompPath = join(io, 'seccomp');
  writeFileSync(seccompPath, seccompProgram);
  writeFileSync(specPath, '');

  const cleanup = () => rmSync(scratch, { recursive: true, force: true });
  process.on('exit', cleanup);

  // Helper variants: each call builds the spec for a fresh id (the id names the cgroups and must be
  // unique), exactly as SandboxRuntime.run does.
  const planDirs = [];
  let seq = 0;
  const helperSpec = ({ cgroups = true, overlay = true } = {}) => {
    const id = `bench${process.pid}x${seq++}`;
    const def = { id, argv: ['/bin/true'], limits: LIMITS, network: 'none', ...(overlay ? { workspace } : {}) };
    const plan = cgroups ? rt.planCgroups(host.cgroups, id, LIMITS) : { dirs: [], sets: [], reports: {} };
    planDirs.push(...plan.dirs);
    return rt.encodeSpec(rt.buildHelperSpec(def, host, plan));
  };
  const helperVariant = (name, label, { seccomp = true, ...specOpts } = {}) => ({
    name,
    label,
    cmd: host.helperPath,
    args: ['--args', '3', ...(seccomp ? ['--seccomp', '4'] : [])],
    prepare: () => writeFileSync(specPath, helperSpec(specOpts)),
  });

  const variants = [{ name: 'plain', label: '/bin/true', cmd: '/bin/true', args: [] }];
  const notes = [];
  const unshare = which('unshare');
  if (unshare) variants.push({ name: 'unshare', label: 'unshare -Urpmn --fork', cmd: unshare, args: ['-Urpmn', '--fork', '/bin/true'] });
  else notes.push('unshare (util-linux) not found: skipped');
  const bwrap = which('bwrap');
  if (bwrap) variants.push({ name: 'bwrap', label: 'bwrap --unshare-all (ro /)', cmd: bwrap, args: ['--unshare-all', '--die-with-parent', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '/bin/true'] });
  else notes.push('bwrap not installed: skipped (benchmark-only peer; apt-get install bubblewrap)');
  variants.push(helperVariant('bkg', 'bkg-helper, everything on'));
  if (opts.breakdown) {
    variants.push(helperVariant('bkg_no_seccomp', 'bkg-helper, no seccomp', { seccomp: false }));
    variants.push(helperVariant('bkg_no_cgroups', 'bkg-helper, no cgroups', { cgroups: false }));
    variants.push(helperVariant('bkg_no_overlay', 'bkg-helper, no workspace', { overlay: false }));
  }

  // Baselines for the leak check, and a sample spec for the header.
  const cgroupsBefore = new Set(cgroupChildren(host.cgroups));
  const mountsBefore = mountCount();
  const workspaceBefore = treeDigest(workspace);
  const sampleTokens = rt.buildHelperSpec({ id: 'sample', argv: ['/bin/true'], limits: LIMITS, network: 'none', workspace }, host, rt.planCgroups(host.cgroups, 'sample', LIMITS));

  const cgroupDesc = host.cgroups.version === 1 ? `v1 (${[...host.cgroups.bases.keys()].join(', ')})` : host.cgroups.version === 2 ? `v2 (${[...host.cgroups.controllers].join(', ')})` : 'none';
  console.log(`# bkg cold start: /bin/true`);
  console.log(`host: Linux ${release()}, ${cpus().length} CPU(s) (${cpus()[0]?.model.trim() ?? '?'}), node ${process.version}, cgroups ${cgroupDesc}`);
  console.log(`helper: ${host.helperPath}; spec ${sampleTokens.length} tokens (${sampleTokens.filter((t) => t.startsWith('--')).length} options); seccomp ${seccompProgram.length / 8} BPF instructions`);
  console.log(`runs: ${opts.warmup} warm-up + ${opts.iterations} measured per variant, ${opts.breakdown ? 'shuffled every round' : 'round-robin'} over ${variants.length} variants`);
  for (const n of notes) console.log(`note: ${n}`);
  if (host.cgroups.problems.length) console.log(`note: cgroup problems: ${host.cgroups.problems.join('; ')}`);
  console.log('');

  // The harness: identical for every variant. Descriptors 3 and 4 are the spec and seccomp files,
  // opened fresh before and closed after each spawn; only the synchronous spawn-to-exit is timed.
  const samples = new Map(variants.map((v) => [v.name, []]));
  const env = {};
  const runOnce = (v, round, measured) => {
    v.prepare?.();
    const fd3 = openSync(specPath, 'r');
    const fd4 = openSync(seccompPath, 'r');
    let r, t0, t1;
    try {
      t0 = process.hrtime.bigint();
      r = spawnSync(v.cmd, v.args, { stdio: ['ignore', 'ignore', 'inherit', fd3, fd4], env });
      t1 = process.hrtime.bigint();
    } finally {
      closeSync(fd3);
      closeSync(fd4);
    }
    if (r.error || r.status !== 0) {
      const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`;
      die(`${v.name} (${v.cmd} ${v.args.join(' ')}) failed on ${measured ? 'measured' : 'warm-up'} round ${round}: ${why}; aborting`);
    }
    if (measured) samples.get(v.name).push(Number(t1 - t0) / 1e6);
  };

  // Peers: strict round-robin (A, B, C, D, A, ...). With --breakdown the order is shuffled every
  // round (seeded, so reruns match) instead: a cgroup attach is cheap right after another one (see
  // README), and fixed neighbours would hand that advantage to whichever helper variant comes second.
  const rand = mulberry32(0xb4c);
  const started = process.hrtime.bigint();
  for (let round = 0; round < opts.warmup + opts.iterations; round++) {
    const order = opts.breakdown ? shuffle([...variants], rand) : variants;
    for (const v of order) runOnce(v, round, round >= opts.warmup);
  }
  const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;

  // Results.
  const stats = Object.fromEntries(variants.map((v) => [v.name, summarize(samples.get(v.name))]));
  const base = stats.plain.median_ms;
  for (const v of variants) stats[v.name].ratio_to_plain = stats[v.name].median_ms / base;
  console.log('| variant | median ms | p90 ms | p99 ms | mean ms | × /bin/true |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const v of variants) {
    const s = stats[v.name];
    console.log(`| ${v.label} | ${fmt(s.median_ms)} | ${fmt(s.p90_ms)} | ${fmt(s.p99_ms)} | ${fmt(s.mean_ms)} | ${fmt(s.ratio_to_plain, 1)}× |`);
  }
  console.log('');
  console.log(`(${opts.iterations} measured runs each; ${elapsedS.toFixed(1)} s in all)`);

  // Leak check: every cgroup directory a plan named is gone, nothing new under bkg's parents,
  // the host mount table is the same size, and the workspace was not written through.
  const cgroupsAfter = cgroupChildren(host.cgroups);
  const newCgroups = cgroupsAfter.filter((d) => !cgroupsBefore.has(d));
  const leftoverPlanned = planDirs.filter((d) => existsSync(d));
  const leakedCgroups = [...new Set([...newCgroups, ...leftoverPlanned])];
  const mountsAfter = mountCount();
  const workspaceIntact = treeDigest(workspace) === workspaceBefore;
  const leaks = {
    cgroup_dirs_planned: planDirs.length,
    cgroup_dirs_left: leakedCgroups.length,
    mounts_before: mountsBefore,
    mounts_after: mountsAfter,
    workspace_unchanged: workspaceIntact,
  };
  leaks.ok = leakedCgroups.length === 0 && mountsAfter === mountsBefore && workspaceIntact;
  console.log(
    `leak check: ${leaks.ok ? 'OK' : 'FAILED'}: ${leakedCgroups.length} of ${planDirs.length} planned cgroup dirs left` +
      `${leakedCgroups.length ? ` (${leakedCgroups.slice(0, 5).join(', ')}${leakedCgroups.length > 5 ? ', ...' : ''})` : ''}; ` +
      `mountinfo ${mountsBefore} → ${mountsAfter} lines; workspace ${workspaceIntact ? 'unchanged' : 'CHANGED'}`,
  );

  const round3 = (o) => Object.fromEntries(Object.entries(o).map(([k, x]) => [k, typeof x === 'number' ? Math.round(x * 1000) / 1000 : x]));
  const json = {
    bench: 'cold-start',
    command: '/bin/true',
    iterations: opts.iterations,
    warmup: opts.warmup,
    order: opts.breakdown ? 'shuffled' : 'round-robin',
    elapsed_s: Math.round(elapsedS * 10) / 10,
    host: { kernel: release(), cpus: cpus().length, node: process.version, cgroup_version: host.cgroups.version },
    skipped: notes,
    variants: Object.fromEntries(variants.map((v) => [v.name, { label: v.label, ...round3(stats[v.name]) }])),
    leaks,
  };
  console.log(`JSON: ${JSON.stringify(json)}`);
  if (!leaks.ok) process.exitCode = 1;
}

await main();
