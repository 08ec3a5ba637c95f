#!/usr/bin/env node
// The CLI's own cost, side by side with `node -e 0` in one run (round-robin, so a noisy machine
// slows every variant alike): what a developer waits for when a command does no real work.
//
//   node bench/cli.mjs [--n N]          (N runs of each variant after 3 warm-up rounds; default 20; $BENCH_CLI_N)
//
// Variants: bkg --version, bkg --help, bkg ls (5 sandboxes), bkg stop NAME (already stopped),
// bkg run --rm -- true (a whole throwaway sandbox), bkg exec NAME -- true (a running sandbox), and
// the floor under run --rm: Node running the helper (one spawnSync) with the same kind of spec and seccomp program,
// made beforehand (bench/lib/spawn-helper.cjs), so what bkg's own code adds shows apart from Node's
// spawn and the sandbox.
// Targets (issue 9): --version, --help, ls, stop <= 2x node -e 0; run --rm -- true <= 1.5x.
// Needs a built helper and dist/ (npm run build); sandboxes need root or user namespaces. Says
// whether bin/run.js loaded the fast path's bundle (dist/cli/fast/bundle/) or its modules one by
// one (no bundle, or tsc ran after it), before and after the runs.
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stopStrayDaemons } from './lib/daemon.mjs';
import { cliEnv, RUN_JS, tempDir } from './lib/host.mjs';
import { parseOptions } from './lib/options.mjs';
import { section, table, verdict } from './lib/output.mjs';
import { roundRobin, spawnTimed, summarize } from './lib/timing.mjs';

const OPTIONS = {
  prog: 'cli-bench',
  script: 'cli.mjs',
  exitCode: 2,
  options: { n: { flag: '--n', env: 'BENCH_CLI_N', default: 20, help: 'runs of each variant, after 3 warm-up rounds' } },
};
const WARMUP = 3;
/** Five sandboxes from a cave.yaml: "busy" runs (the exec target), the others are stopped. */
const SANDBOXES = ['busy', 'idle', 'a', 'b', 'c'];
const VARIANTS = [
  { key: 'node', label: '`node -e 0` (the floor)', argv: ['-e', '0'] },
  { key: 'version', label: '`bkg --version`', argv: [RUN_JS, '--version'], target: 2 },
  { key: 'help', label: '`bkg --help`', argv: [RUN_JS, '--help'], target: 2 },
  { key: 'ls', label: '`bkg ls` (5 sandboxes)', argv: [RUN_JS, 'ls'], target: 2 },
  { key: 'stop', label: '`bkg stop NAME` (already stopped)', argv: [RUN_JS, 'stop', 'idle'], target: 2 },
  { key: 'run', label: '`bkg run --rm -- true`', argv: [RUN_JS, 'run', '--rm', '--', 'true'], target: 1.5 },
  { key: 'exec', label: '`bkg exec NAME -- true` (info)', argv: [RUN_JS, 'exec', 'busy', '--', 'true'] },
  { key: 'floor', label: 'the least a `run --rm` from Node costs: it runs the helper, spec made beforehand (info)', argv: null },
];

/** The spec and seccomp program `bkg run --rm -- true` hands the helper, made once with the engine's own code (dist/), as files in `dir`. */
async function helperFloorArgs(dir) {
  const { definitionFromFlags } = await import('../dist/cli/run-sandbox.js');
  const { detectHost } = await import('../dist/runtime/host.js');
  const { prepareSandbox } = await import('../dist/runtime/prepared.js');
  const { SeccompPrograms } = await import('../dist/runtime/seccomp/programs.js');
  const { buildHelperSpec, encodeSpec } = await import('../dist/runtime/spec.js');
  const host = detectHost();
  const state = await prepareSandbox(await definitionFromFlags({ cmd: ['true'] }), host, new SeccompPrograms());
  writeFileSync(join(dir, 'spec'), encodeSpec(buildHelperSpec(state.def, host, state.plan)));
  writeFileSync(join(dir, 'seccomp'), state.seccomp ?? Buffer.alloc(0));
  return [join(import.meta.dirname, 'lib', 'spawn-helper.cjs'), host.helperPath, join(dir, 'spec'), join(dir, 'seccomp')];
}

/** How bin/run.js loads the fast path now: 'bundle' or 'modules' (NODE_DEBUG=module names the chunks it requires). */
function fastPathForm(env, cwd) {
  const r = spawnSync(process.execPath, [RUN_JS, '--version'], { env: { ...env, NODE_DEBUG: 'module' }, cwd, encoding: 'utf8' });
  return r.stderr.includes(join('dist', 'cli', 'fast', 'bundle', 'index.cjs')) ? 'bundle' : 'modules';
}

async function main() {
  const { n } = parseOptions(OPTIONS);
  const home = tempDir('bkg-cli-bench-');
  const env = cliEnv(home);
  const bkg = (...args) => {
    const r = spawnSync(process.execPath, [RUN_JS, ...args], { env, cwd: home, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`bkg ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  };
  try {
    writeFileSync(join(home, 'cave.yaml'), 'project: bench\nversion: 1\nsandboxes:\n' + SANDBOXES.map((s) => `  - name: ${s}\n`).join(''));
    bkg('run');
    for (const s of SANDBOXES.slice(1)) bkg('stop', s);
    const before = fastPathForm(env, home);
    const floorArgs = await helperFloorArgs(home);
    const variants = VARIANTS.map((v) => ({ ...v, argv: v.argv ?? floorArgs, run: () => spawnTimed(process.execPath, v.argv ?? floorArgs, { env, cwd: home, stdio: ['ignore', 'ignore', 'pipe'] }) }));
    await roundRobin(variants, { warmup: WARMUP, n });
    const after = fastPathForm(env, home);
    const fastPath = before === after ? before : `${before}, then ${after}`;
    const floor = summarize(variants[0].samples).p50;
    const results = {};
    section(`bkg CLI start-up vs node -e 0 (${n} runs each, round-robin, after ${WARMUP} warm-up rounds)`);
    table(
      ['command', 'median ms', 'p90 ms', 'x node -e 0 (median)', 'target'],
      variants.map((v) => {
        const s = summarize(v.samples);
        const ratio = s.p50 / floor;
        results[v.key] = { p50_ms: s.p50, p90_ms: s.p90, ratio };
        return [v.label, s.p50.toFixed(1), s.p90.toFixed(1), `${ratio.toFixed(2)}x`, v.target === undefined ? '' : `<= ${v.target}x: ${verdict(ratio <= v.target)}`];
      }),
      { left: [0, 4] },
    );
    console.log(`fast path loaded as: ${fastPath === 'bundle' ? 'the bundle (dist/cli/fast/bundle/)' : fastPath === 'modules' ? 'modules one by one (no fresh bundle: npm run build makes one)' : `${fastPath} (the build changed during the runs: measure again)`}`);
    console.log(JSON.stringify({ n, fast_path: fastPath, results }));
  } finally {
    for (const s of SANDBOXES) spawnSync(process.execPath, [RUN_JS, 'rm', '--force', s], { env, cwd: home });
    spawnSync(process.execPath, [RUN_JS, 'daemon', 'stop'], { env, cwd: home });
    await stopStrayDaemons(OPTIONS.prog, home, [], { grace: 5000 }); // `daemon stop` does not wait for the exit
    rmSync(home, { recursive: true, force: true });
  }
}

await main();
