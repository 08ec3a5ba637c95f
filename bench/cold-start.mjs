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
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupDirs, checkHost, hostFacts, hostLine, mountCount, tempDir, which } from './lib/host.mjs';
import { die, parseOptions } from './lib/options.mjs';
import { cells, fmt, printJson, table } from './lib/output.mjs';
import { nowMs, roundRobin, spawnTimed, stddev, summarize } from './lib/timing.mjs';

const OPTIONS = {
  prog: 'cold-start',
  script: 'cold-start.mjs',
  options: {
    iterations: { flag: '--iterations', alias: '-n', env: 'BENCH_ITERATIONS', default: 300, help: 'measured runs per variant' },
    warmup: { flag: '--warmup', env: 'BENCH_WARMUP', min: 0, default: 20, help: 'unmeasured runs per variant first' },
    breakdown: { flag: '--breakdown', type: 'boolean', help: 'also time bkg-helper with one feature left out at a time', more: ['(no seccomp, no cgroups, no workspace overlay), to see what costs what'] },
  },
};
const LIMITS = { memoryBytes: 256 << 20, cpus: 1, pids: 128, diskBytes: 64 << 20, timeoutMs: 30000 };
const BWRAP_ARGS = ['--unshare-all', '--die-with-parent', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '/bin/true'];

async function main() {
  const opts = parseOptions(OPTIONS);
  const host = await checkHost({ root: 'must run as root (bkg then creates cgroups and id-maps the workspace, as in production): sudo node bench/cold-start.mjs', dist: ['dist/runtime/host.js'], helper: true });
  const rt = await loadRuntime();
  const seccompProgram = rt.compileSeccomp(rt.defaultSeccompProfile());
  const files = scratch(seccompProgram);
  const { variants, planDirs, notes } = makeVariants(rt, host, opts, files);
  const leakCheck = startLeakCheck(host, files.workspace, planDirs);

  const sampleTokens = rt.buildHelperSpec({ id: 'sample', argv: ['/bin/true'], limits: LIMITS, network: 'none', workspace: files.workspace }, host, rt.planCgroups(host.cgroups, 'sample', LIMITS));
  const cgroupDesc = host.cgroups.version === 1 ? `v1 (${[...host.cgroups.bases.keys()].join(', ')})` : host.cgroups.version === 2 ? `v2 (${[...host.cgroups.controllers].join(', ')})` : 'none';
  console.log(`# bkg cold start: /bin/true`);
  console.log(`${hostLine()}, cgroups ${cgroupDesc}`);
  console.log(`helper: ${host.helperPath}; spec ${sampleTokens.length} tokens (${sampleTokens.filter((t) => t.startsWith('--')).length} options); seccomp ${seccompProgram.length / 8} BPF instructions`);
  console.log(`runs: ${opts.warmup} warm-up + ${opts.iterations} measured per variant, ${opts.breakdown ? 'shuffled every round' : 'round-robin'} over ${variants.length} variants`);
  for (const n of notes) console.log(`note: ${n}`);
  if (host.cgroups.problems.length) console.log(`note: cgroup problems: ${host.cgroups.problems.join('; ')}`);
  console.log('');

  // Peers: strict round-robin (A, B, C, D, A, ...). With --breakdown the order is shuffled every
  // round (seeded, so reruns match) instead: a cgroup attach is cheap right after another one (see
  // README), and fixed neighbours would hand that advantage to whichever helper variant comes second.
  const rand = mulberry32(0xb4c);
  const started = nowMs();
  await roundRobin(variants, { warmup: opts.warmup, n: opts.iterations, order: (vs) => (opts.breakdown ? shuffle([...vs], rand) : vs) });
  const elapsedS = (nowMs() - started) / 1000;

  const stats = Object.fromEntries(
    variants.map((v) => {
      const s = summarize(v.samples, '_ms');
      return [v.key, { median_ms: s.p50_ms, p90_ms: s.p90_ms, p99_ms: s.p99_ms, mean_ms: s.mean_ms, min_ms: s.min_ms, max_ms: s.max_ms, stddev_ms: stddev(v.samples) }];
    }),
  );
  for (const v of variants) stats[v.key].ratio_to_plain = stats[v.key].median_ms / stats.plain.median_ms;
  table(
    ['variant', 'median ms', 'p90 ms', 'p99 ms', 'mean ms', '× /bin/true'],
    variants.map((v) => [v.label, ...cells(stats[v.key], ['median_ms', 'p90_ms', 'p99_ms', 'mean_ms']), `${fmt(stats[v.key].ratio_to_plain, 1)}×`]),
  );
  console.log(`(${opts.iterations} measured runs each; ${elapsedS.toFixed(1)} s in all)`);
  const leaks = leakCheck();
  printJson({
    bench: 'cold-start',
    command: '/bin/true',
    iterations: opts.iterations,
    warmup: opts.warmup,
    order: opts.breakdown ? 'shuffled' : 'round-robin',
    elapsed_s: Math.round(elapsedS * 10) / 10,
    host: { ...hostFacts(), cgroup_version: host.cgroups.version },
    skipped: notes,
    variants: Object.fromEntries(variants.map((v) => [v.key, { label: v.label, ...stats[v.key] }])),
    leaks,
  });
  if (!leaks.ok) process.exitCode = 1;
}

/**
 * The variants, each with its `run`: the harness, identical for every variant. Descriptors 3 and 4
 * are the spec and seccomp files, opened fresh before and closed after each spawn; only the
 * synchronous spawn-to-exit is timed. A failed run aborts the bench, naming the variant and round.
 */
function makeVariants(rt, host, opts, { workspace, specPath, seccompPath }) {
  // Helper variants: each run builds the spec for a fresh id (the id names the cgroups and must be
  // unique), exactly as SandboxEngine.run does.
  const planDirs = [];
  let seq = 0;
  const helperSpec = ({ cgroups = true, overlay = true } = {}) => {
    const id = `bench${process.pid}x${seq++}`;
    const def = { id, argv: ['/bin/true'], limits: LIMITS, network: 'none', ...(overlay ? { workspace } : {}) };
    const plan = cgroups ? rt.planCgroups(host.cgroups, id, LIMITS) : { dirs: [], sets: [], reports: {} };
    planDirs.push(...plan.dirs);
    return rt.encodeSpec(rt.buildHelperSpec(def, host, plan));
  };
  const helperVariant = (key, label, { seccomp = true, ...specOpts } = {}) => ({
    key,
    label,
    cmd: host.helperPath,
    args: ['--args', '3', ...(seccomp ? ['--seccomp', '4'] : [])],
    prepare: () => writeFileSync(specPath, helperSpec(specOpts)),
  });

  const variants = [{ key: 'plain', label: '/bin/true', cmd: '/bin/true', args: [] }];
  const notes = [];
  const unshare = which('unshare');
  if (unshare) variants.push({ key: 'unshare', label: 'unshare -Urpmn --fork', cmd: unshare, args: ['-Urpmn', '--fork', '/bin/true'] });
  else notes.push('unshare (util-linux) not found: skipped');
  const bwrap = which('bwrap');
  if (bwrap) variants.push({ key: 'bwrap', label: 'bwrap --unshare-all (ro /)', cmd: bwrap, args: BWRAP_ARGS });
  else notes.push('bwrap not installed: skipped (benchmark-only peer; apt-get install bubblewrap)');
  variants.push(helperVariant('bkg', 'bkg-helper, everything on'));
  if (opts.breakdown) {
    variants.push(helperVariant('bkg_no_seccomp', 'bkg-helper, no seccomp', { seccomp: false }));
    variants.push(helperVariant('bkg_no_cgroups', 'bkg-helper, no cgroups', { cgroups: false }));
    variants.push(helperVariant('bkg_no_overlay', 'bkg-helper, no workspace', { overlay: false }));
  }
  for (const v of variants) {
    v.run = (round, measured) => {
      v.prepare?.();
      const fd3 = openSync(specPath, 'r');
      const fd4 = openSync(seccompPath, 'r');
      try {
        return spawnTimed(v.cmd, v.args, { stdio: ['ignore', 'ignore', 'inherit', fd3, fd4], env: {} });
      } catch (err) {
        return die(`${v.key} (${v.cmd} ${v.args.join(' ')}) failed on ${measured ? 'measured' : 'warm-up'} round ${round}: ${err.why ?? err.message}; aborting`);
      } finally {
        closeSync(fd3);
        closeSync(fd4);
      }
    };
  }
  return { variants, planDirs, notes };
}

/**
 * Take the baselines now; the returned function prints the leak check and returns its JSON: every
 * cgroup directory a plan named is gone, nothing of this run's new under bkg's parents, the host
 * mount table is the same size, and the workspace was not written through.
 */
function startLeakCheck(host, workspace, planDirs) {
  const layout = host.cgroups;
  const bkgCgroups = () => cgroupDirs(layout.version === 2 ? { unified: layout.base } : layout.version === 1 ? Object.fromEntries(layout.bases) : {}).all;
  const cgroupsBefore = new Set(bkgCgroups());
  const mountsBefore = mountCount();
  const workspaceBefore = treeDigest(workspace);
  return () => {
    // only this run's sandboxes (ids bench<pid>x<n>): other bkg processes on the host may come and go meanwhile
    const newCgroups = bkgCgroups().filter((d) => !cgroupsBefore.has(d) && d.includes(`bench${process.pid}x`));
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
    return leaks;
  };
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

/**
 * Scratch, removed at exit: a workspace with a few files (mounted copy-on-write at /workspace) and
 * a directory for the two descriptor files (spec, seccomp program), kept out of the workspace.
 */
function scratch(seccompProgram) {
  const dir = tempDir('bkg-bench-');
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const workspace = join(dir, 'workspace');
  const io = join(dir, 'io');
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
  return { workspace, specPath, seccompPath };
}

/** Paths, modes, owners, sizes and contents of everything under `dir`. */
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

await main();
