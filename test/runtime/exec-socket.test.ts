/**
 * Exec as a message: a persistent sandbox started with an exec socket runs each command through its
 * supervisor's exec server (no helper spawned per exec), with the same streams, exit codes, stdin,
 * signals and deadlines as a spawned helper; without a reachable server the engine spawns one.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { execSocketName, newSandboxId, type SandboxDefinition } from '../../src/runtime/definition.js';
import { SandboxEngine, type SandboxHandle } from '../../src/runtime/engine.js';
import type { ExecControl } from '../../src/runtime/io.js';
import { withDefaults } from '../../src/runtime/limits.js';
import { prepareSandbox } from '../../src/runtime/prepared.js';
import { SeccompPrograms } from '../../src/runtime/seccomp/programs.js';
import { buildExecSpec, encodeSpec } from '../../src/runtime/spec.js';
import { makeRuntime, sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();
const { host } = makeRuntime();
const engine = new SandboxEngine({ host, log: createLogger({ level: 'silent' }) });
const dir = mkdtempSync(join(tmpdir(), 'bkg-execsock-'));
const started: SandboxHandle[] = [];
afterAll(async () => {
  for (const h of started) await engine.stop(h);
  rmSync(dir, { recursive: true, force: true });
});

function define(): SandboxDefinition {
  const id = newSandboxId();
  return { id, argv: [], limits: withDefaults({ memoryBytes: 128 << 20, pids: 64 }), network: 'none', execSocket: join(dir, execSocketName(id)) };
}

async function exec(h: SandboxHandle, argv: string[], opts: { input?: string; timeoutMs?: number; onStarted?: (c: ExecControl) => void } = {}) {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const r = await engine.exec(h, { argv, ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}) }, {
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], ...(opts.input === undefined ? {} : { input: opts.input }),
    onStdout: (c) => out.push(c), onStderr: (c) => err.push(c), ...(opts.onStarted ? { onStarted: opts.onStarted } : {}),
  });
  return { ...r, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() };
}

/** The helper processes whose parent is `pid`. */
const childrenOf = (pid: number): number[] =>
  spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);

describe.skipIf(skip)('exec server of a persistent sandbox', () => {
  it('runs commands as messages: streams apart, exit codes, stdin, 3 MB intact, no helper spawned for them', async () => {
    const def = define();
    const h = await engine.start(def);
    started.push(h);
    expect(existsSync(def.execSocket as string)).toBe(true);
    const server = childrenOf(h.helperPid).find((p) => p !== h.initPid) as number;
    expect(server).toBeGreaterThan(0);
    // the server lives in the sandbox's cgroups, so an exec's processes are born there
    const pidsDir = host.cgroups.version === 1 ? host.cgroups.bases.get('pids') : host.cgroups.version === 2 ? host.cgroups.base : undefined;
    if (pidsDir) expect(readFileSync(join(pidsDir, h.id, 'cgroup.procs'), 'utf8').split('\n')).toContain(String(server));
    const a = await exec(h, ['sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect([a.exitCode, a.stdout.toString(), a.stderr]).toEqual([3, 'out\n', 'err\n']);
    const b = await exec(h, ['cat'], { input: 'through stdin\n' });
    expect(b.stdout.toString()).toBe('through stdin\n');
    const big = await exec(h, ['sh', '-c', 'head -c 3000000 /dev/urandom | base64 -w 0 | tee /tmp/big >/dev/null; cat /tmp/big']);
    const want = await exec(h, ['sha256sum', '/tmp/big']);
    expect(big.stdout.length).toBe(4_000_000);
    expect(want.stdout.toString().split(' ')[0]).toBe(spawnSync('sha256sum', { input: big.stdout, encoding: 'utf8' }).stdout.split(' ')[0]);
    // no helper was spawned by us for these execs: the supervisor's children are init and the server
    expect(childrenOf(h.helperPid).sort()).toEqual([h.initPid, server].sort());
  });

  it('keeps the connection until the caller ends it: a caller that writes after the command ended still gets its result', async () => {
    // Node drops what a socket has not read yet when a write on it fails: a server that closed as the
    // command ended made the caller's late 'E' fail, and lost the exec's output and result with it
    const def = define();
    const h = await engine.start(def);
    started.push(h);
    const state = await prepareSandbox({ ...def, persist: true }, host, new SeccompPrograms());
    const spec = encodeSpec(buildExecSpec(state.def, { argv: ['sh', '-c', 'echo late'] }, host, state.plan));
    const head = (type: string, len: number) => Buffer.concat([Buffer.from(type, 'latin1'), Buffer.from([len >>> 24, (len >>> 16) & 255, (len >>> 8) & 255, len & 255])]);
    const req = Buffer.concat([Buffer.from([spec.length >>> 24, (spec.length >>> 16) & 255, (spec.length >>> 8) & 255, spec.length & 255]), spec, state.seccomp ?? Buffer.alloc(0)]);
    const sock = connect({ path: def.execSocket as string });
    const got: Buffer[] = [];
    let failed: Error | null = null;
    sock.on('error', (e) => (failed = e));
    sock.on('data', (c: Buffer) => got.push(c));
    await new Promise((r) => sock.once('connect', r));
    sock.pause(); // nothing read until the command has long ended
    sock.write(Buffer.concat([head('R', req.length), req]));
    await new Promise((r) => setTimeout(r, 500));
    sock.write(head('E', 0)); // the late write
    sock.resume();
    await new Promise((r) => sock.once('close', r));
    expect(failed).toBeNull();
    const all = Buffer.concat(got);
    const frames: [string, string][] = [];
    for (let i = 0; i + 5 <= all.length; ) {
      const len = all.readUInt32BE(i + 1);
      frames.push([String.fromCharCode(all[i] as number), all.subarray(i + 5, i + 5 + len).toString('latin1')]);
      i += 5 + len;
    }
    expect(frames.map(([t]) => t)).toEqual(expect.arrayContaining(['A', '1', 'S', 'X']));
    expect(frames.find(([t]) => t === '1')?.[1]).toBe('late\n');
    expect(frames.filter(([t]) => t === 'S').map(([, p]) => p).join('')).toContain('"type":"exited"');
  });

  it('starts each command with no signal ignored or blocked (the server ignores SIGCHLD, the helper SIGPIPE)', async () => {
    const h = await engine.start(define());
    started.push(h);
    const r = await exec(h, ['sh', '-c', 'yes | head -1; grep -E "^Sig(Ign|Blk)" /proc/self/status']);
    expect([r.stderr, r.stdout.toString()]).toEqual(['', 'y\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n']);
  });

  it('serves concurrent execs, each from a spare forked ahead while the last one serves', async () => {
    const h = await engine.start(define());
    started.push(h);
    const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => exec(h, ['sh', '-c', `sleep 0.2; echo ${i}`])));
    expect(rs.map((r) => [r.exitCode, r.stdout.toString()])).toEqual(Array.from({ length: 8 }, (_, i) => [0, `${i}\n`]));
    // between execs: the server and one spare waiting in accept, nothing else left behind
    const server = childrenOf(h.helperPid).find((p) => p !== h.initPid) as number;
    for (let i = 0; i < 50 && childrenOf(server).length !== 1; i++) await new Promise((r) => setTimeout(r, 20));
    expect(childrenOf(server)).toHaveLength(1);
  });

  it('delivers signals and enforces deadlines like a spawned helper, and ends the command when told to stop', async () => {
    const h = await engine.start(define());
    started.push(h);
    const sig = await exec(h, ['sh', '-c', 'trap "echo got INT; exit 7" INT; echo ready; sleep 30 & wait'], {
      onStarted: (c) => setTimeout(() => c.signal(2), 300),
    });
    expect([sig.exitCode, sig.stdout.toString()]).toEqual([7, 'ready\ngot INT\n']);
    const slow = await exec(h, ['sleep', '31'], { timeoutMs: 300 });
    expect(slow.timedOut).toBe(true);
    const t0 = Date.now();
    const stopped = await exec(h, ['sleep', '32'], { onStarted: (c) => setTimeout(() => c.stop(), 200) });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(stopped.exitCode).toBeNull();
    const left = await exec(h, ['sh', '-c', 'ps -eo args | grep -c "^sleep 3[12]" || true']);
    expect(left.stdout.toString().trim()).toBe('0');
  });

  it('falls back to a spawned helper when the server cannot be reached, and removes its socket on stop', async () => {
    const def = define();
    const h = await engine.start(def);
    const sock = def.execSocket as string;
    renameSync(sock, `${sock}.away`);
    const r = await exec(h, ['echo', 'spawned']);
    expect(r.stdout.toString()).toBe('spawned\n');
    renameSync(`${sock}.away`, sock);
    await engine.stop(h);
    expect(existsSync(sock)).toBe(false);
    expect(readdirSync(dir).filter((n) => n.startsWith(h.id))).toEqual([]);
  });

  it('runs the command once, through a spawned helper, when the connection ends before the server took the request', async () => {
    const def = define();
    const h = await engine.start(def);
    started.push(h);
    const sock = def.execSocket as string;
    renameSync(sock, `${sock}.away`);
    // a server that accepts, reads the request and dies before it says 'A' (as one that fails to set up would)
    const taken: number[] = [];
    const fake = createServer((c) => c.once('data', (d) => (taken.push(d.length), c.destroy())));
    await new Promise<void>((r) => fake.listen(sock, r));
    try {
      const r = await exec(h, ['sh', '-c', 'echo once >> /tmp/runs; cat; wc -l < /tmp/runs'], { input: 'stdin kept\n' });
      expect([r.exitCode, r.stdout.toString()]).toEqual([0, 'stdin kept\n1\n']);
      expect(taken).toHaveLength(1);
    } finally {
      await new Promise((r) => fake.close(r));
      renameSync(`${sock}.away`, sock);
    }
    // the real server still serves
    expect((await exec(h, ['cat', '/tmp/runs'])).stdout.toString()).toBe('once\n');
  });

  it('refuses the connection when the server has died (nobody else holds its socket), so an exec falls back instead of waiting', async () => {
    const h = await engine.start(define());
    started.push(h);
    const server = childrenOf(h.helperPid).find((p) => p !== h.initPid) as number;
    const spare = childrenOf(server)[0] as number;
    process.kill(server, 'SIGKILL');
    // its spare, waiting in accept inside the sandbox's namespaces, goes with it (joining the sandbox must not undo its parent-death signal)
    const gone = (pid: number): boolean => !existsSync(`/proc/${pid}`) || /^Z/.test(spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim());
    for (let i = 0; i < 100 && !gone(spare); i++) await new Promise((r) => setTimeout(r, 20));
    expect(gone(spare)).toBe(true);
    for (let i = 0; i < 100 && childrenOf(h.helperPid).includes(server) && !/^Z/.test(spawnSync('ps', ['-o', 'stat=', '-p', String(server)], { encoding: 'utf8' }).stdout.trim()); i++) await new Promise((r) => setTimeout(r, 20));
    const t0 = Date.now();
    const r = await exec(h, ['echo', 'still served'], { timeoutMs: 10_000 });
    expect([r.exitCode, r.stdout.toString()]).toEqual([0, 'still served\n']);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });
});
