/** The daemon dies hard mid-exec and comes back: sandboxes and data intact, nothing leaked. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectHost } from '../../src/runtime/host.js';
import { call, removeHome } from '../helpers/daemon.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();
const dist = join(import.meta.dirname, '..', '..', 'dist');
const home = mkdtempSync(join(tmpdir(), 'bkg-restart-'));
const local = { socketPath: join(home, 'bkg.sock') };

const daemonLog = join(home, 'daemon.log');

/** Each step has its own deadline, so a hang says where it happened and what the daemon last logged. */
async function step<T>(label: string, p: Promise<T>, ms = 20_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label}: no answer after ${ms} ms; the daemon's log ends with:\n${readFileSync(daemonLog, 'utf8').split('\n').slice(-15).join('\n')}`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

function startDaemonProcess(): Promise<ChildProcess> {
  const script = `
    const { loadDaemonConfig } = await import(${JSON.stringify(join(dist, 'daemon', 'config.js'))});
    const { startDaemon } = await import(${JSON.stringify(join(dist, 'daemon', 'main.js'))});
    const d = await startDaemon({ config: loadDaemonConfig() });
    process.stdout.write('ready\\n');
    await d.closed;
  `;
  const log = openSync(daemonLog, 'a');
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, BKG_HOME: home, BKG_PORT: '0' }, stdio: ['ignore', 'pipe', log] });
  closeSync(log);
  return step('daemon start', new Promise((resolve, reject) => {
    child.stdout?.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`daemon exited with ${code}`)));
  }));
}

function cgroupDirsOf(id: string): string[] {
  const layout = detectHost({ prepareCgroups: false }).cgroups;
  const bases = layout.version === 1 ? [...layout.bases.values()] : layout.version === 2 ? [layout.base] : [];
  return bases.flatMap((b) => readdirSync(b).filter((n) => n === id));
}

const req = (method: string, path: string, body?: unknown) => step(`${method} ${path}`, call(local, method, path, body));
const pgrep = (pattern: string): string => spawnSync('pgrep', ['-f', pattern]).stdout.toString().trim();

describe.skipIf(skip)('daemon restart', () => {
  let daemon: ChildProcess | null = null;
  afterAll(async () => {
    if (daemon && daemon.exitCode === null) {
      for (const s of ['keep', 'dead']) await call(local, 'DELETE', `/api/v1/sandboxes/${s}`);
      daemon.kill('SIGTERM');
    }
    removeHome(home);
  });

  it('re-adopts running sandboxes after SIGKILL during an exec, and marks the dead ones', async () => {
    daemon = await startDaemonProcess();
    for (const name of ['keep', 'dead']) {
      expect((await req('POST', '/api/v1/sandboxes', { name })).status).toBe(201);
      expect((await req('POST', `/api/v1/sandboxes/${name}/start`)).status).toBe(200);
    }
    await req('POST', '/api/v1/sandboxes/keep/exec', { cmd: ['sh', '-c', 'echo survived > /tmp/state'] });
    const deadView = (await req('GET', '/api/v1/sandboxes/dead')).body as { id: string };
    const keepView = (await req('GET', '/api/v1/sandboxes/keep')).body as { id: string };

    const inflight = call(local, 'POST', '/api/v1/sandboxes/keep/exec', { cmd: ['sleep', '7.77'] }).catch((e: Error) => e);
    for (let i = 0; i < 100 && pgrep('^sleep 7.77$') === ''; i++) await new Promise((r) => setTimeout(r, 20));
    expect(pgrep('^sleep 7.77$')).not.toBe('');
    daemon.kill('SIGKILL');
    expect(await step('the in-flight exec, once its daemon is killed', inflight)).toBeInstanceOf(Error);
    // while the daemon is down, the 'dead' sandbox's supervisor dies too
    const db = new Database(join(home, 'bkg.db'), { readonly: true });
    const row = db.prepare('SELECT helper_pid, pid FROM sandboxes WHERE name = ?').get('dead') as { helper_pid: number; pid: number };
    db.close();
    process.kill(row.helper_pid, 'SIGKILL');
    expect(cgroupDirsOf(deadView.id).length).toBeGreaterThan(0); // left behind: nobody cleaned up yet

    daemon = await startDaemonProcess();
    for (let i = 0; i < 100 && pgrep('^sleep 7.77$') !== ''; i++) await new Promise((r) => setTimeout(r, 20));
    expect(pgrep('^sleep 7.77$')).toBe(''); // the interrupted exec did not leak

    const keep = (await req('GET', '/api/v1/sandboxes/keep')).body as { status: string };
    expect(keep.status).toBe('running');
    expect((await req('GET', '/api/v1/sandboxes/dead')).body).toMatchObject({ status: 'stopped' });
    expect(cgroupDirsOf(deadView.id)).toEqual([]); // reconciliation removed what the dead one left
    const state = (await req('POST', '/api/v1/sandboxes/keep/exec', { cmd: ['cat', '/tmp/state'] })).body as { stdout: string };
    expect(state.stdout).toBe('survived\n');
    const logs = (await req('GET', '/api/v1/sandboxes/keep/logs')).body as { executions: unknown[] };
    expect(logs.executions.length).toBeGreaterThanOrEqual(2);
    expect((await req('GET', '/api/v1/audit/verify')).body).toMatchObject({ ok: true });

    // stop both: every trace of the sandboxes goes
    for (const name of ['keep', 'dead']) expect((await req('DELETE', `/api/v1/sandboxes/${name}`)).status).toBe(204);
    expect(cgroupDirsOf(keepView.id)).toEqual([]);
    expect(cgroupDirsOf(deadView.id)).toEqual([]);
  });
});
