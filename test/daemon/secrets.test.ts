/**
 * Sealed secrets against a real daemon with real sandboxes: set from sealed boxes, listed by name,
 * removed; who may (the rights table); a sandbox receiving them as variables and as 0400 files on a
 * memory file system; a missing one as a typed NOT_FOUND; and the leak test: after a unique value
 * went through every path, no file under BKG_HOME and no API answer or event holds it.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import sodium from 'libsodium-wrappers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, freePort, removeHome, startTestDaemon, type Resp, type Target, type TestDaemon } from '../helpers/daemon.js';
import { mcpClient, mcpTool } from '../helpers/doors.js';
import { readEvents, socketEndpoint, type Reader } from '../helpers/events.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();

interface ErrorBody {
  error: { code: string; message: string; hint: string; details?: Record<string, unknown> };
}
interface SecretView { name: string; namespace: string; created_at: string; updated_at: string; updated_by: string }
interface ExecBody { exit_code: number | null; stdout: string; stderr: string }

const code = (r: Resp): string | number => (r.status < 300 ? r.status : (r.body as ErrorBody).error.code);
const err = (r: Resp): ErrorBody['error'] => (r.body as ErrorBody).error;

/** Every regular file under `dir` (sockets and the like left out). */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return filesUnder(p);
    return e.isFile() ? [p] : [];
  });
}

describe.skipIf(skip)('sealed secrets', () => {
  let d: TestDaemon;
  let port: number;
  let publicKey: Uint8Array;
  let events: Reader;
  const admin = (): Target => d.local;
  const as = (key: string): Target => ({ port, key });
  /** The value sealed to the daemon's key, as `bkg secret set` sends it. */
  const seal = (value: string | Uint8Array, key: Uint8Array = publicKey): string => Buffer.from(sodium.crypto_box_seal(value, key)).toString('base64');
  const put = (t: Target, name: string, value: string | Uint8Array, namespace?: string): Promise<Resp> =>
    call(t, 'PUT', `/api/v1/secrets/${name}`, { sealed: seal(value), ...(namespace ? { namespace } : {}) });
  const makeKey = async (name: string, role: string, namespace?: string): Promise<string> =>
    ((await call(admin(), 'POST', '/api/v1/keys', { name, role, ...(namespace ? { namespace } : {}) })).body as { secret: string }).secret;
  const exec = async (t: Target, sandbox: string, cmd: string[]): Promise<ExecBody> => {
    const r = await call(t, 'POST', `/api/v1/sandboxes/${sandbox}/exec`, { cmd });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body as ExecBody;
  };

  beforeAll(async () => {
    await sodium.ready;
    port = await freePort();
    // debug logs too must not hold a value
    process.env.BKG_LOG_LEVEL = 'debug';
    d = await startTestDaemon({ port });
    delete process.env.BKG_LOG_LEVEL;
    events = readEvents(socketEndpoint(d.config.socketPath));
    await events.ready;
    const pk = await call(admin(), 'GET', '/api/v1/secrets/public-key');
    expect(pk.status).toBe(200);
    publicKey = Buffer.from((pk.body as { public_key: string }).public_key, 'base64');
  });
  afterAll(async () => {
    events?.close();
    await d?.stop();
    if (d) removeHome(d.home);
  });

  it('keeps its sealing key in a 0600 file under BKG_HOME and answers the public key', async () => {
    const file = join(d.home, 'secrets.key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(publicKey.length).toBe(sodium.crypto_box_PUBLICKEYBYTES);
    const pk = (await call(admin(), 'GET', '/api/v1/secrets/public-key')).body as { algorithm: string; fingerprint: string };
    expect(pk.algorithm).toBe('libsodium-sealed-box-x25519-xsalsa20poly1305');
    expect(pk.fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });

  it('sets a secret from a sealed box, replaces it, lists names only, removes it', async () => {
    const first = await put(admin(), 'API_TOKEN', 'one');
    expect(first.status).toBe(201);
    const created = first.body as SecretView;
    expect(created).toMatchObject({ name: 'API_TOKEN', namespace: 'default', updated_by: 'host' });
    const again = await put(admin(), 'API_TOKEN', 'two');
    expect(again.status).toBe(200);
    expect((again.body as SecretView).created_at).toBe(created.created_at);
    const list = (await call(admin(), 'GET', '/api/v1/secrets')).body as { secrets: SecretView[] };
    expect(list.secrets.map((s) => s.name)).toContain('API_TOKEN');
    expect(JSON.stringify(list)).not.toMatch(/sealed|ciphertext|"one"|"two"/);
    expect(code(await call(admin(), 'DELETE', '/api/v1/secrets/API_TOKEN'))).toBe(204);
    const gone = await call(admin(), 'DELETE', '/api/v1/secrets/API_TOKEN');
    expect(code(gone)).toBe('NOT_FOUND');
    expect(err(gone).hint).toContain('bkg secret ls');
  });

  it('refuses what is not a sealed box to its key, bad names, and values over 64 KiB', async () => {
    const garbage = await call(admin(), 'PUT', '/api/v1/secrets/X1', { sealed: randomBytes(80).toString('base64') });
    expect(code(garbage)).toBe('INVALID_ARGUMENT');
    expect(err(garbage).hint).toMatch(/public-key/);
    const other = sodium.crypto_box_keypair();
    expect(code(await call(admin(), 'PUT', '/api/v1/secrets/X1', { sealed: seal('v', other.publicKey) }))).toBe('INVALID_ARGUMENT');
    expect(code(await call(admin(), 'PUT', '/api/v1/secrets/bad-name', { sealed: seal('v') }))).toBe('INVALID_ARGUMENT');
    expect(code(await call(admin(), 'PUT', '/api/v1/secrets/X1', { sealed: 'not base64!' }))).toBe('INVALID_ARGUMENT');
    expect(code(await put(admin(), 'X1', new Uint8Array(65_537)))).toBe('PAYLOAD_TOO_LARGE');
    expect(code(await put(admin(), 'X1', new Uint8Array(65_536).fill(65)))).toBe(201);
  });

  it('lets admin keys act in any namespace and namespace keys in their own; read-only and sandbox keys not at all', async () => {
    const team = await makeKey('team', 'namespace', 'team');
    const other = await makeKey('other', 'namespace', 'other');
    const readonly = await makeKey('ro', 'readonly');
    expect(code(await put(as(team), 'TEAM_TOKEN', 't'))).toBe(201);
    expect(((await call(admin(), 'GET', '/api/v1/secrets?namespace=team')).body as { secrets: SecretView[] }).secrets.map((s) => `${s.namespace}/${s.name}`)).toEqual(['team/TEAM_TOKEN']);
    expect(code(await put(as(team), 'TEAM_TOKEN', 't', 'other'))).toBe('FORBIDDEN');
    expect(code(await call(as(team), 'GET', '/api/v1/secrets?namespace=other'))).toBe('FORBIDDEN');
    expect(((await call(as(team), 'GET', '/api/v1/secrets')).body as { secrets: SecretView[] }).secrets.map((s) => s.name)).toEqual(['TEAM_TOKEN']);
    expect(((await call(as(other), 'GET', '/api/v1/secrets')).body as { secrets: SecretView[] }).secrets).toEqual([]);
    expect(code(await call(as(other), 'DELETE', '/api/v1/secrets/TEAM_TOKEN'))).toBe('NOT_FOUND');
    // another namespace's secret is not there to give
    const borrowed = await call(as(other), 'POST', '/api/v1/sandboxes', { name: 'borrow', secrets: [{ name: 'TEAM_TOKEN' }] });
    expect(code(borrowed)).toBe('NOT_FOUND');
    expect(err(borrowed).message).toContain('no secret "TEAM_TOKEN" in namespace "other"');

    for (const route of [['GET', '/api/v1/secrets'], ['GET', '/api/v1/secrets/public-key'], ['PUT', '/api/v1/secrets/RO'], ['DELETE', '/api/v1/secrets/TEAM_TOKEN']] as const) {
      const r = await call(as(readonly), route[0], route[1], route[0] === 'PUT' ? { sealed: seal('x') } : undefined);
      expect(code(r), route.join(' ')).toBe('FORBIDDEN');
    }
    const sb = await call(as(team), 'POST', '/api/v1/sandboxes', { name: 'team-box', secrets: [{ name: 'TEAM_TOKEN' }] });
    expect(sb.status, JSON.stringify(sb.body)).toBe(201);
    const own = (sb.body as { api_key_secret: string }).api_key_secret;
    expect(code(await call(as(own), 'GET', '/api/v1/secrets'))).toBe('FORBIDDEN');
    expect(code(await put(as(own), 'FROM_INSIDE', 'x'))).toBe('FORBIDDEN');
    // a read-only key cannot give secrets (nor create sandboxes); the refusal is audited with the action
    expect(code(await call(as(readonly), 'POST', '/api/v1/sandboxes', { name: 'ro-box', secrets: [{ name: 'TEAM_TOKEN' }] }))).toBe('FORBIDDEN');
    const audit = ((await call(admin(), 'GET', '/api/v1/audit?limit=1000')).body as { events: { action: string; outcome: string; target: string | null }[] }).events;
    expect(audit).toEqual(expect.arrayContaining([
      expect.objectContaining({ action: 'secret.set', outcome: 'ok', target: 'TEAM_TOKEN' }),
      expect.objectContaining({ action: 'secret.write', outcome: 'denied' }),
      expect.objectContaining({ action: 'secret.list', outcome: 'denied' }),
    ]));
    expect(code(await call(admin(), 'DELETE', '/api/v1/sandboxes/team-box'))).toBe(204);
  });

  it('gives a sandbox its secrets as variables and as 0400 files under /run/secrets, again after a restart of it', async () => {
    const pem = '-----BEGIN KEY-----\nabc\n-----END KEY-----\n';
    expect(code(await put(admin(), 'DB_PASSWORD', 'hunter2-db'))).toBe(201);
    expect(code(await put(admin(), 'TLS_KEY', pem))).toBe(201);
    const secrets = [{ name: 'DB_PASSWORD' }, { name: 'DB_PASSWORD', env: 'PGPASSWORD' }, { name: 'TLS_KEY', file: true }];
    const created = await call(admin(), 'POST', '/api/v1/sandboxes', { name: 'app', secrets, env: { PLAIN: '1' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ secrets, env: ['PLAIN'] });
    expect(code(await call(admin(), 'POST', '/api/v1/sandboxes/app/start'))).toBe(200);

    const vars = await exec(admin(), 'app', ['sh', '-c', 'printf "%s|%s|%s" "$DB_PASSWORD" "$PGPASSWORD" "${TLS_KEY-unset}"']);
    expect(vars.stdout).toBe('hunter2-db|hunter2-db|unset');
    const file = await exec(admin(), 'app', ['sh', '-c', 'stat -c "%a %u %F" /run/secrets/TLS_KEY; stat -c "%a" /run/secrets; cat /run/secrets/TLS_KEY; ls /run/secrets']);
    expect(file.stdout).toBe(`400 0 regular file\n755\n${pem}TLS_KEY\n`);
    expect((await exec(admin(), 'app', ['sh', '-c', 'grep " /run/secrets " /proc/mounts'])).stdout).toMatch(/^tmpfs \/run\/secrets tmpfs /);

    // a stop saves the writable layer, never the secrets' file system; the next start writes them again
    expect(code(await call(admin(), 'POST', '/api/v1/sandboxes/app/stop'))).toBe(200);
    expect(code(await call(admin(), 'POST', '/api/v1/sandboxes/app/start'))).toBe(200);
    expect((await exec(admin(), 'app', ['cat', '/run/secrets/TLS_KEY'])).stdout).toBe(pem);

    // a value changed meanwhile reaches the sandbox at its next start
    expect(code(await put(admin(), 'DB_PASSWORD', 'rotated-db'))).toBe(200);
    expect((await exec(admin(), 'app', ['printenv', 'DB_PASSWORD'])).stdout).toBe('hunter2-db\n');
    // the value it still holds stays masked in what is stored about its commands, and so does the new one
    await exec(admin(), 'app', ['echo', 'hunter2-db', 'rotated-db']);
    const stored = (await call(admin(), 'GET', '/api/v1/sandboxes/app/logs')).body as { executions: { cmd: string[] }[] };
    expect(stored.executions.find((e) => e.cmd[0] === 'echo')?.cmd).toEqual(['echo', '***', '***']);
    await call(admin(), 'POST', '/api/v1/sandboxes/app/stop');
    await call(admin(), 'POST', '/api/v1/sandboxes/app/start');
    expect((await exec(admin(), 'app', ['printenv', 'DB_PASSWORD'])).stdout).toBe('rotated-db\n');

    // through MCP, the same request fields
    const client = await mcpClient(port, await makeKey('mcp', 'admin'));
    try {
      const r = await mcpTool(client, 'sandbox_create', { name: 'via-mcp', secrets: [{ name: 'TLS_KEY', file: true }] });
      expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
      expect(r.structuredContent).toMatchObject({ sandbox: { name: 'via-mcp', secrets: [{ name: 'TLS_KEY', file: true }] } });
    } finally {
      await client.close();
    }
  });

  it('answers NOT_FOUND with a hint for a secret that is missing at create or, removed since, at start', async () => {
    const missing = await call(admin(), 'POST', '/api/v1/sandboxes', { name: 'needs', secrets: [{ name: 'NOPE' }, { name: 'ALSO_NOPE', file: true }] });
    expect(code(missing)).toBe('NOT_FOUND');
    expect(err(missing).message).toBe('no secret "NOPE", "ALSO_NOPE" in namespace "default"');
    expect(err(missing).hint).toContain('`bkg secret set NOPE`');
    expect(err(missing).details).toEqual({ secrets: ['NOPE', 'ALSO_NOPE'], namespace: 'default' });

    for (const [secrets, message] of [
      [[{ name: 'TLS_KEY', env: 'X', file: true }], 'env and file exclude each other'],
      [[{ name: 'TLS_KEY' }, { name: 'DB_PASSWORD', env: 'TLS_KEY' }], 'the variable TLS_KEY is already given by secrets[0]'],
      [[{ name: 'TLS_KEY', env: 'BKG_API_KEY' }], 'BKG_API_KEY is set by bkg itself'],
      [[{ name: 'TLS_KEY', env: 'PLAIN' }], 'PLAIN is also given in env'],
    ] as const) {
      const r = await call(admin(), 'POST', '/api/v1/sandboxes', { name: 'bad', env: { PLAIN: '1' }, secrets });
      expect(code(r)).toBe('INVALID_ARGUMENT');
      expect(err(r).message).toContain(message);
    }

    expect(code(await put(admin(), 'SHORT_LIVED', 'v1'))).toBe(201);
    expect(code(await call(admin(), 'POST', '/api/v1/sandboxes', { name: 'later', secrets: [{ name: 'SHORT_LIVED' }] }))).toBe(201);
    expect(code(await call(admin(), 'DELETE', '/api/v1/secrets/SHORT_LIVED'))).toBe(204);
    const start = await call(admin(), 'POST', '/api/v1/sandboxes/later/start');
    expect(code(start)).toBe('NOT_FOUND');
    expect(err(start).message).toContain('asks for secret "SHORT_LIVED", which namespace "default" no longer has');
    expect(err(start).hint).toContain('bkg secret set SHORT_LIVED');
    expect(code(await put(admin(), 'SHORT_LIVED', 'v2'))).toBe(201);
    expect(code(await call(admin(), 'POST', '/api/v1/sandboxes/later/start'))).toBe(200);
    expect((await exec(admin(), 'later', ['printenv', 'SHORT_LIVED'])).stdout).toBe('v2\n');
  });

  it('leaks a value nowhere: not in any file under BKG_HOME, any API answer, the audit log or the event stream; stored commands mask it', async () => {
    const plain = `leak${randomBytes(16).toString('hex')}`;
    const forms = [plain, Buffer.from(plain).toString('base64'), Buffer.from(plain).toString('hex')];
    expect(code(await put(admin(), 'LEAKY', plain))).toBe(201);
    const created = await call(admin(), 'POST', '/api/v1/sandboxes', { name: 'leaky', secrets: [{ name: 'LEAKY' }, { name: 'LEAKY', file: true }] });
    expect(created.status).toBe(201);
    expect(code(await call(admin(), 'POST', '/api/v1/sandboxes/leaky/start'))).toBe(200);

    // the command sees the value (its answer goes to its caller); what bkg stores of the command is masked
    const r = await exec(admin(), 'leaky', ['sh', '-c', `test "$LEAKY" = "${plain}" && printf %s "${plain}" | cmp -s /run/secrets/LEAKY - && echo same`]);
    expect(r.stdout).toBe('same\n');
    const echoed = await exec(admin(), 'leaky', ['sh', '-c', 'echo "$LEAKY"; cat /run/secrets/LEAKY; echo kept > /tmp/marker']);
    expect(echoed.stdout).toBe(`${plain}\n${plain}`);
    const logs = (await call(admin(), 'GET', '/api/v1/sandboxes/leaky/logs')).body as { executions: { cmd: string[] }[] };
    expect(logs.executions.at(-2)?.cmd[2]).toBe('test "$LEAKY" = "***" && printf %s "***" | cmp -s /run/secrets/LEAKY - && echo same');
    const started = await events.find((e) => e.type === 'exec.started' && JSON.stringify(e).includes('cmp -s'), 'the masked exec.started');
    expect(JSON.stringify(started)).toContain('\\"***\\"');

    const answers: Resp[] = [
      await call(admin(), 'GET', '/api/v1/sandboxes/leaky'),
      await call(admin(), 'GET', '/api/v1/sandboxes'),
      await call(admin(), 'GET', '/api/v1/sandboxes/leaky/logs'),
      await call(admin(), 'GET', '/api/v1/secrets'),
      await call(admin(), 'GET', '/api/v1/audit?limit=100000'),
      created,
    ];
    // a stop saves the sandbox's writable layer under BKG_HOME: /run/secrets is not part of it
    answers.push(await call(admin(), 'POST', '/api/v1/sandboxes/leaky/stop'));
    expect(answers.every((a) => a.status === 200 || a.status === 201)).toBe(true);
    for (const a of answers) for (const f of forms) expect(a.raw.includes(f), `${f} in an answer: ${a.raw.toString().slice(0, 200)}`).toBe(false);
    expect(events.events.length).toBeGreaterThan(10);
    for (const f of forms) expect(JSON.stringify(events.events).includes(f), 'the value in the event stream').toBe(false);

    events.close();
    await d.stop(); // logs flushed, the database checkpointed as far as it goes
    const files = filesUnder(d.home);
    expect(files.some((f) => f.includes(join('sandboxes', (created.body as { id: string }).id, 'files'))), 'the stopped sandbox\'s saved files are searched too').toBe(true);
    expect(files.map((f) => f.slice(d.home.length + 1))).toEqual(expect.arrayContaining(['bkg.db', 'master.key', 'secrets.key', 'logs/daemon.log']));
    const db = readFileSync(join(d.home, 'bkg.db'));
    expect(db.includes('LEAKY'), 'the grep finds what is there').toBe(true);
    for (const f of files) {
      const bytes = readFileSync(f);
      for (const form of forms) expect(bytes.includes(form), `${form} in ${f}`).toBe(false);
    }
  });
});
