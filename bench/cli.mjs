#!/usr/bin/env node
// The CLI's own cost, side by side with `node -e 0` in one run (round-robin, so a noisy machine
// slows every variant alike): what a developer waits for when a command does no real work.
//
//   node bench/cli.mjs [--n N]          (N runs of each variant after 3 warm-up rounds; default 20; $BENCH_CLI_N)
//
// Variants: bkg --version, bkg --help, bkg ls (5 sandboxes), bkg stop NAME (already stopped),
// bkg run --rm -- true (a whole throwaway sandbox), bkg exec NAME -- true (a running sandbox).
// Targets (issue 9): --version, --help, ls, stop <= 2x node -e 0; run --rm -- true <= 1.5x.
// Needs a built helper and dist/ (npm run build); sandboxes need root or user namespaces.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nowMs, percentile } from './lib.mjs';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const BIN = join(ROOT, 'bin', 'run.js');
const argN = process.argv.indexOf('--n');
const N = Number(argN > 0 ? process.argv[argN + 1] : process.env.BENCH_CLI_N ?? 20);
if (!Number.isInteger(N) || N < 1) {
  console.error('cli-bench: --n takes a whole number');
  process.exit(2);
}

const home = mkdtempSync(join(tmpdir(), 'bkg-cli-bench-'));
const env = { ...process.env, BKG_HOME: home, BKG_PORT: '0', BKG_API_URL: '', BKG_API_KEY: '' };
const bkg = (...args) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { env, cwd: home, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bkg ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r;
};

const VARIANTS = [
  { key: 'node', label: '`node -e 0` (the floor)', argv: ['-e', '0'] },
  { key: 'version', label: '`bkg --version`', argv: [BIN, '--version'], target: 2 },
  { key: 'help', label: '`bkg --help`', argv: [BIN, '--help'], target: 2 },
  { key: 'ls', label: '`bkg ls` (5 sandboxes)', argv: [BIN, 'ls'], target: 2 },
  { key: 'stop', label: '`bkg stop NAME` (already stopped)', argv: [BIN, 'stop', 'idle'], target: 2 },
  { key: 'run', label: '`bkg run --rm -- true`', argv: [BIN, 'run', '--rm', '--', 'true'], target: 1.5 },
  { key: 'exec', label: '`bkg exec NAME -- true` (info)', argv: [BIN, 'exec', 'busy', '--', 'true'] },
];

function once(v) {
  const t0 = nowMs();
  const r = spawnSync(process.execPath, v.argv, { env, cwd: home, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = nowMs() - t0;
  if (r.status !== 0) throw new Error(`${v.label} exited ${r.status}: ${r.stderr}`);
  return ms;
}

try {
  // five sandboxes through a cave.yaml: "busy" runs (the exec target), the others are stopped
  writeFileSync(join(home, 'cave.yaml'), 'project: bench\nversion: 1\nsandboxes:\n' + ['busy', 'idle', 'a', 'b', 'c'].map((n) => `  - name: ${n}\n`).join(''));
  bkg('run');
  for (const n of ['idle', 'a', 'b', 'c']) bkg('stop', n);
  const samples = Object.fromEntries(VARIANTS.map((v) => [v.key, []]));
  for (let round = -3; round < N; round++) {
    for (const v of VARIANTS) {
      const ms = once(v);
      if (round >= 0) samples[v.key].push(ms);
    }
  }
  const stats = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return { p50: percentile(s, 50), p90: percentile(s, 90) };
  };
  const floor = stats(samples.node).p50;
  console.log(`## bkg CLI start-up vs node -e 0 (${N} runs each, round-robin, after 3 warm-up rounds)\n`);
  console.log('| command | median ms | p90 ms | x node -e 0 (median) | target |');
  console.log('| --- | ---: | ---: | ---: | --- |');
  const result = {};
  for (const v of VARIANTS) {
    const s = stats(samples[v.key]);
    const ratio = s.p50 / floor;
    result[v.key] = { p50_ms: s.p50, p90_ms: s.p90, ratio };
    const target = v.target === undefined ? '' : `<= ${v.target}x: ${ratio <= v.target ? 'met' : 'missed'}`;
    console.log(`| ${v.label} | ${s.p50.toFixed(1)} | ${s.p90.toFixed(1)} | ${ratio.toFixed(2)}x | ${target} |`);
  }
  console.log(`\n${JSON.stringify({ n: N, results: result })}`);
} finally {
  for (const n of ['busy', 'idle', 'a', 'b', 'c']) spawnSync(process.execPath, [BIN, 'rm', '--force', n], { env, cwd: home });
  spawnSync(process.execPath, [BIN, 'daemon', 'stop'], { env, cwd: home });
  rmSync(home, { recursive: true, force: true });
}
