/**
 * `bkg llm pull`'s progress through bin/run.js against the daemon it starts: JSON events then the
 * result with --json, plain lines on stderr without a terminal, a redrawn and cleared line in a real
 * PTY. The model comes from a local file, or from a local HTTP server that sends it slowly (so that
 * the pull takes a few seconds and shows its rate and ETA).
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, bkg } from '../helpers/cli.js';
import { modelSkipReason, TEST_MODEL } from '../helpers/model.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason() ?? modelSkipReason();
const SIZE = 1_185_376;
const CHUNKS = 30;
const CHUNK_MS = 80; // ~2.4 s per slow download

interface Line {
  type: string;
  phase?: string;
  bytes_done?: number;
  bytes_total?: number | null;
  rate_bps?: number | null;
  eta_s?: number | null;
  [k: string]: unknown;
}

const hasScript = (() => {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** A command line run in a real PTY by script(1) (asynchronously: this process serves the download); its raw output. */
function inPty(cmd: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out).toString('utf8')) : reject(new Error(`script exited ${code}: ${Buffer.concat(out).toString()}`))));
  });
}

/** One word for sh -c (script(1) takes its command as a string). */
const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

describe.skipIf(skip)('bkg llm pull shows its progress', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let server: Server;
  let base: string;
  const run = (args: string[]) => bkg(args, { cwd: dir, env });
  const lines = (stdout: string): Line[] => stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Line);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bkg-progress-'));
    env = { BKG_HOME: join(dir, 'home'), BKG_PORT: '0', NO_COLOR: '' };
    copyFileSync(TEST_MODEL, join(dir, 'stories260K.gguf'));
    const data = readFileSync(TEST_MODEL);
    // /sized/...: with Content-Length; /unsized/...: chunked, the total unknown until the end
    server = createServer((req, res) => {
      res.writeHead(200, req.url?.startsWith('/sized/') ? { 'content-length': data.length } : {});
      const step = Math.ceil(data.length / CHUNKS);
      let at = 0;
      const next = (): void => {
        if (at >= data.length || res.destroyed) {
          res.end();
          return;
        }
        res.write(data.subarray(at, at + step));
        at += step;
        setTimeout(next, CHUNK_MS);
      };
      next();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await run(['daemon', 'stop']);
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('--json: progress events, one per line on stdout, then the result line (a local file)', async () => {
    const r = await run(['llm', 'pull', join(dir, 'stories260K.gguf'), '--name', 'local', '--json']);
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    const result = out.pop() as Line;
    expect(result).toMatchObject({ type: 'result', status: 'done', model_id: 'local', bytes_done: SIZE, bytes_total: SIZE });
    expect(out.length).toBeGreaterThanOrEqual(1);
    expect(out.every((l) => l.type === 'progress')).toBe(true);
    expect(out.at(-1)).toEqual({ type: 'progress', phase: 'done', bytes_done: SIZE, bytes_total: SIZE, rate_bps: null, eta_s: 0 });
    expect(r.stderr).not.toMatch(/downloading|verifying/); // human progress stays off with --json
    expect((await run(['llm', 'rm', 'local'])).code).toBe(0);
  });

  it('--json over a slow download: bytes, total, rate and ETA as it goes, then done and the result', async () => {
    const r = await run(['llm', 'pull', `${base}/sized/stories260K.gguf`, '--name', 'slow', '--json']);
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    expect(out.at(-1)).toMatchObject({ type: 'result', status: 'done', model_id: 'slow' });
    expect(out.at(-2)).toMatchObject({ type: 'progress', phase: 'done', bytes_done: SIZE });
    const downloading = out.filter((l) => l.phase === 'downloading' && l.bytes_total === SIZE);
    expect(downloading.length).toBeGreaterThanOrEqual(4);
    const done = downloading.map((l) => l.bytes_done as number);
    expect(done).toEqual([...done].sort((a, b) => a - b)); // never backwards
    expect(done.some((d) => d > 0 && d < SIZE)).toBe(true);
    const measured = downloading.filter((l) => typeof l.rate_bps === 'number' && (l.rate_bps as number) > 0 && typeof l.eta_s === 'number');
    expect(measured.length).toBeGreaterThanOrEqual(2);
    for (const l of measured) expect(l.rate_bps as number).toBeLessThan(SIZE * 10); // ~0.5 MB/s as served, not nonsense
    const phases = [...new Set(out.slice(0, -1).map((l) => l.phase))];
    expect(phases[0]).toBe('downloading');
    expect(phases.at(-1)).toBe('done');
    expect((await run(['llm', 'rm', 'slow'])).code).toBe(0);
  });

  it('--json with an unknown total: bytes and rate, total and ETA null', async () => {
    const r = await run(['llm', 'pull', `${base}/unsized/stories260K.gguf`, '--name', 'unsized', '--json']);
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    expect(out.at(-1)).toMatchObject({ type: 'result', model_id: 'unsized' });
    const moving = out.filter((l) => l.phase === 'downloading' && l.bytes_total === null && (l.bytes_done as number) > 0);
    expect(moving.length).toBeGreaterThanOrEqual(2);
    expect(moving.every((l) => l.eta_s === null)).toBe(true);
    expect(moving.some((l) => typeof l.rate_bps === 'number' && (l.rate_bps as number) > 0)).toBe(true);
    expect((await run(['llm', 'rm', 'unsized'])).code).toBe(0);
  });

  it('--json when the pull fails: the failed phase, then the error line, and its exit code', async () => {
    const r = await run(['llm', 'pull', join(dir, 'stories260K.gguf'), '--name', 'bad', '--sha256', '0'.repeat(64), '--json']);
    expect(r.code).toBe(2);
    const out = lines(r.stdout);
    expect(out.at(-1)).toMatchObject({ type: 'error', error: { code: 'MODEL_VERIFICATION_FAILED', message: expect.stringContaining('sha256 mismatch') } });
    expect(out.at(-2)).toMatchObject({ type: 'progress', phase: 'failed' });
  });

  it('without a terminal: plain progress lines on stderr, only the result on stdout', async () => {
    const r = await run(['llm', 'pull', `${base}/sized/stories260K.gguf`, '--name', 'plain']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Pulled plain (verified in a sandbox).\n');
    expect(r.stderr).not.toContain('\r'); // no redrawing
    expect(r.stderr).not.toContain('\x1b'); // no colours, no cursor moves
    const progress = r.stderr.split('\n').filter((l) => l.startsWith('bkg: downloading'));
    expect(progress.length).toBeGreaterThanOrEqual(3);
    // (the first may come before the server's answer says the size)
    for (const l of progress) expect(l).toMatch(/^bkg: downloading stories260K\.gguf: \d+(\.\d)? (B|KiB|MiB)( of 1\.1 MiB \(\d+%\))?(, \d+(\.\d)? (B|KiB|MiB)\/s, ETA \d+s)?$/);
    const pcts = progress.filter((l) => l.includes('%')).map((l) => Number(/\((\d+)%\)/.exec(l)?.[1]));
    expect(pcts.length).toBeGreaterThanOrEqual(3);
    expect(pcts).toEqual([...pcts].sort((a, b) => a - b));
    expect(new Set(pcts.map((p) => Math.floor(p / 10))).size).toBe(pcts.length); // about one line per tenth, not per poll
    expect(r.stderr).toMatch(/\nbkg: done stories260K\.gguf: 1\.1 MiB in \d+\.\ds, \d+(\.\d)? KiB\/s\n$/);
    expect((await run(['llm', 'rm', 'plain'])).code).toBe(0);
  });

  it.skipIf(!hasScript)('in a real terminal: one line redrawn in place, cleared before the result', async () => {
    const cmd = ['stty', 'cols', '100', ';', 'exec', shq(process.execPath), shq(BIN), 'llm', 'pull', shq(`${base}/sized/stories260K.gguf`), '--name', 'tty'].join(' ');
    const raw = await inPty(cmd, { ...process.env, ...env, LANG: 'C.UTF-8', TERM: 'xterm' });
    const frames = raw.split('\r\x1b[2K');
    const drawn = frames.filter((f) => f.includes('downloading stories260K.gguf'));
    for (const f of drawn) expect(f).not.toContain('\n'); // one line, redrawn: never a new line per update
    // once the size is known (the first frame may come before the server's answer): the bar, the percent, the bytes
    const sized = drawn.filter((f) => f.includes('/ 1.1 MiB'));
    expect(sized.length).toBeGreaterThanOrEqual(3);
    for (const f of sized) expect(f).toMatch(/\[.*\]\s+\d+%\s+\S+ \S+ \/ 1\.1 MiB/);
    expect(drawn.some((f) => /MiB\/s|KiB\/s/.test(f) && /ETA \d+s/.test(f))).toBe(true);
    expect(raw).toContain('\x1b[36m'); // coloured: NO_COLOR is empty
    expect(frames.at(-1)?.replace(/\r/g, '')).toBe('Pulled tty (verified in a sandbox).\n'); // the line was cleared, nothing left of it
    expect((await run(['llm', 'rm', 'tty'])).code).toBe(0);
  });
});
