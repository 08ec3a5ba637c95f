/**
 * Secrets in a fleet: two real daemons sharing one fleet database (a real Postgres) and one master
 * key. A secret sealed to one host's key is stored under the master key and replicated, so a
 * sandbox on the other host receives it; its removal replicates too. Neither host's files hold it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sodium from 'libsodium-wrappers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initFleet } from '../../src/store/pg/index.js';
import { call, freePort, removeHome, startTestDaemon, type Resp, type TestDaemon } from '../helpers/daemon.js';
import { postgresSkipReason, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';
import { until } from '../helpers/until.js';

const skip = postgresSkipReason() ?? sandboxSkipReason();

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []));
}

describe.skipIf(skip !== null)('secrets in a fleet', () => {
  let pg: TestPostgres;
  const daemons: TestDaemon[] = [];
  const homes: string[] = [];
  const masterKey = randomBytes(32).toString('hex');

  beforeAll(async () => {
    await sodium.ready;
    pg = await startPostgres();
    const superUrl = await pg.createDatabase('fleet');
    await initFleet(superUrl);
    const url = pg.urlOf('fleet', 'bkg_daemon');
    for (const name of ['alpha', 'beta']) {
      const home = mkdtempSync(join(tmpdir(), `bkg-secrets-fleet-${name}-`));
      homes.push(home);
      writeFileSync(join(home, 'master.key'), masterKey, { mode: 0o600 });
      daemons.push(await startTestDaemon({ home, port: await freePort(), env: { BKG_DATABASE_URL: url, BKG_HOST_NAME: name } }));
    }
  });
  afterAll(async () => {
    for (const d of daemons.reverse()) await d.stop().catch(() => {});
    await pg?.stop();
    for (const home of homes) removeHome(home);
  });

  it('replicates a secret set on one host to a sandbox on the other, and its removal, never its value', async () => {
    const [alpha, beta] = daemons as [TestDaemon, TestDaemon];
    const plain = `fleet${randomBytes(16).toString('hex')}`;
    const pk = Buffer.from(((await call(alpha.local, 'GET', '/api/v1/secrets/public-key')).body as { public_key: string }).public_key, 'base64');
    const betaPk = ((await call(beta.local, 'GET', '/api/v1/secrets/public-key')).body as { public_key: string }).public_key;
    expect(betaPk).not.toBe(pk.toString('base64')); // each host seals with its own key; the stored form is the fleet's
    const set = await call(alpha.local, 'PUT', '/api/v1/secrets/SHARED', { sealed: Buffer.from(sodium.crypto_box_seal(plain, pk)).toString('base64') });
    expect(set.status).toBe(201);

    const names = async (): Promise<string[]> => ((await call(beta.local, 'GET', '/api/v1/secrets')).body as { secrets: { name: string }[] }).secrets.map((s) => s.name);
    await until('beta lists SHARED', async () => (await names()).includes('SHARED'));
    expect((await call(beta.local, 'POST', '/api/v1/sandboxes', { name: 'on-beta', secrets: [{ name: 'SHARED' }] })).status).toBe(201);
    expect((await call(beta.local, 'POST', '/api/v1/sandboxes/on-beta/start')).status).toBe(200);
    const r: Resp = await call(beta.local, 'POST', '/api/v1/sandboxes/on-beta/exec', { cmd: ['printenv', 'SHARED'] });
    expect((r.body as { stdout: string }).stdout).toBe(`${plain}\n`);

    expect((await call(alpha.local, 'DELETE', '/api/v1/secrets/SHARED')).status).toBe(204);
    await until('beta no longer lists SHARED', async () => !(await names()).includes('SHARED'));
    expect((await call(beta.local, 'DELETE', '/api/v1/sandboxes/on-beta')).status).toBe(204);

    for (const d of daemons) await d.stop();
    for (const home of homes) for (const f of filesUnder(home)) expect(readFileSync(f).includes(plain), f).toBe(false);
  });
});
