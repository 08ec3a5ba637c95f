/**
 * A daemon's supervisors come from the resident launcher (bkg-helper --launcher), not from a fork of
 * the daemon: it starts them, is started again when it dies, ends with its parent, and when it cannot
 * be had the engine spawns the helper itself.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { execSocketName, newSandboxId, type SandboxDefinition } from '../../src/runtime/definition.js';
import { SandboxEngine, type SandboxHandle } from '../../src/runtime/engine.js';
import { withDefaults } from '../../src/runtime/limits.js';
import { makeRuntime, sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();
const { host } = makeRuntime();
const dir = mkdtempSync(join(tmpdir(), 'bkg-launcher-'));
const engines: SandboxEngine[] = [];
const started: [SandboxEngine, SandboxHandle][] = [];
afterAll(async () => {
  for (const [e, h] of started) await e.stop(h);
  for (const e of engines) await e.close();
  rmSync(dir, { recursive: true, force: true });
});

function engineAt(socket: string): SandboxEngine {
  const e = new SandboxEngine({ host, log: createLogger({ level: 'silent' }), launcherSocket: socket });
  engines.push(e);
  return e;
}

function define(): SandboxDefinition {
  const id = newSandboxId();
  return { id, argv: [], limits: withDefaults({ memoryBytes: 64 << 20, pids: 32 }), network: 'none', execSocket: join(dir, execSocketName(id)) };
}

const parentOf = (pid: number): number => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]);
const args = (pid: number): string => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
const alive = (pid: number): boolean => spawnSync('kill', ['-0', String(pid)]).status === 0 && !/^Z/.test(spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim());

async function startAndExec(e: SandboxEngine): Promise<SandboxHandle> {
  const h = await e.start(define());
  started.push([e, h]);
  const out: Buffer[] = [];
  const r = await e.exec(h, { argv: ['echo', 'up'] }, { stdio: ['ignore', 'pipe', 'ignore'], onStdout: (c) => out.push(c) });
  expect([r.exitCode, Buffer.concat(out).toString()]).toEqual([0, 'up\n']);
  return h;
}

describe.skipIf(skip)('the supervisors\' launcher', () => {
  it('starts the supervisors (their parent is the launcher, not us), and is started again after it died', async () => {
    const e = engineAt(join(dir, 'a.sock'));
    const first = await startAndExec(e);
    const launcher = parentOf(first.helperPid);
    expect(launcher).not.toBe(process.pid);
    expect(args(launcher)).toBe(`bkg-helper --launcher ${join(dir, 'a.sock')}`);
    expect(readFileSync(`/proc/${first.helperPid}/comm`, 'utf8')).toBe('bkg-helper\n'); // named as one the daemon spawns (ps, pkill)
    expect(parentOf(launcher)).toBe(process.pid);
    process.kill(launcher, 'SIGKILL');
    for (let i = 0; i < 100 && alive(launcher); i++) await new Promise((r) => setTimeout(r, 20));
    expect(alive(first.helperPid)).toBe(true); // a supervisor outlives the launcher that started it
    const second = await startAndExec(e);
    const again = parentOf(second.helperPid);
    expect(again).not.toBe(launcher);
    expect(args(again)).toContain('--launcher');
  });

  it('falls back to spawning the helper itself when the launcher cannot listen', async () => {
    const e = engineAt(join(dir, 'no-such-dir', 'b.sock'));
    const h = await startAndExec(e);
    expect(parentOf(h.helperPid)).toBe(process.pid);
  });

  it('ends with the process that started it', async () => {
    const socket = join(dir, 'c.sock');
    // a parent that starts a launcher, prints its pid once it listens, and exits
    const script = `const c = require('node:child_process').spawn(${JSON.stringify(host.helperPath)}, ['--launcher', ${JSON.stringify(socket)}], { stdio: ['ignore', 'pipe', 'ignore'] });
c.stdout.once('data', () => { console.log(c.pid); process.exit(0); });`;
    const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(d.toString()))));
    await new Promise((r) => parent.once('exit', r));
    for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
    expect(alive(pid)).toBe(false);
  });
});
