/** `bkg ca init` and `bkg ca issue` through the real CLI, and a mutual-TLS handshake with what they wrote (another CA's certificate refused). */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bkg } from '../../helpers/cli.js';
import { makeCa, tlsGet, type HostFiles } from './tls.js';

interface Issued {
  cert: string;
  key: string;
  certificate: { subject: string; not_after: string; dns: string[]; ip: string[]; fingerprint_sha256: string };
}

function json<T>(r: { code: number | null; stdout: string; stderr: string }): T {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

function errorOf(r: { code: number | null; stdout: string }): { code: string; message: string; details?: Record<string, unknown> } {
  return (JSON.parse(r.stdout) as { error: { code: string; message: string; details?: Record<string, unknown> } }).error;
}

describe('bkg ca', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bkg-ca-cli-'));
  const ca = join(dir, 'ca');
  let files: Record<string, HostFiles> = {};
  let server: Server | null = null;
  let port = 0;
  let seen: string[] = [];

  beforeAll(async () => {
    const init = json<Issued>(await bkg(['ca', 'init', '--dir', ca, '--json']));
    expect(init.cert).toBe(join(ca, 'ca.crt'));
    expect(init.certificate.subject).toContain('CN=bkg fleet CA');
    const years = (Date.parse(init.certificate.not_after) - Date.now()) / (365.25 * 24 * 3600 * 1000);
    expect(years).toBeGreaterThan(9.9);
    const a = json<Issued>(await bkg(['ca', 'issue', 'alpha', '--dir', ca, '--out', join(dir, 'alpha'), '--json']));
    const b = json<Issued>(await bkg(['ca', 'issue', 'beta', '--dir', ca, '--ip', '127.0.0.1', '--ip', '::1', '--dns', 'beta.internal', '--dns', 'localhost', '--out', join(dir, 'beta'), '--json']));
    expect(a.certificate).toMatchObject({ subject: 'CN=alpha, O=bkg', dns: ['localhost'], ip: ['127.0.0.1'] });
    expect(b.certificate).toMatchObject({ subject: 'CN=beta, O=bkg', dns: ['beta.internal', 'localhost'], ip: ['127.0.0.1', '::1'] });
    const caCert = join(ca, 'ca.crt');
    files = { alpha: { cert: a.cert, key: a.key, ca: caCert }, beta: { cert: b.cert, key: b.key, ca: caCert } };

    // beta serves, asking for a client certificate of the same CA, as the peer listener does
    server = createServer({
      cert: readFileSync(b.cert), key: readFileSync(b.key), ca: readFileSync(caCert), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2',
    }, (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      seen.push(peer.subject.CN as string);
      res.end(JSON.stringify({ client: peer.subject.CN }));
    });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });

  const cleanup: string[] = [dir];

  afterAll(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    for (const d of cleanup) rmSync(d, { recursive: true, force: true });
  });

  it('writes the CA and host keys 0600 and PEM, and never overwrites them', async () => {
    for (const f of [join(ca, 'ca.key'), files.alpha?.key, files.beta?.key] as string[]) {
      expect(statSync(f).mode & 0o777).toBe(0o600);
      expect(readFileSync(f, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    }
    expect(readFileSync(join(ca, 'ca.crt'), 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const before = readFileSync(join(ca, 'ca.key'), 'utf8');
    const again = await bkg(['ca', 'init', '--dir', ca, '--json']);
    expect(again.code).toBe(2);
    expect(errorOf(again)).toMatchObject({ code: 'CONFLICT', details: { path: join(ca, 'ca.crt') } });
    expect(readFileSync(join(ca, 'ca.key'), 'utf8')).toBe(before);
    const reissue = await bkg(['ca', 'issue', 'alpha', '--dir', ca, '--out', join(dir, 'alpha'), '--json']);
    expect(errorOf(reissue).code).toBe('CONFLICT');
  });

  it('names the flag or argument it refuses', async () => {
    const cases: [string[], string][] = [
      [['ca', 'issue', 'bad name', '--dir', ca], 'NAME'],
      [['ca', 'issue', 'gamma', '--dir', ca, '--ip', '300.1.1.1'], '--ip'],
      [['ca', 'issue', 'gamma', '--dir', ca, '--dns', 'not a name'], '--dns'],
      [['ca', 'issue', 'gamma', '--dir', join(dir, 'nowhere')], '--dir'],
    ];
    for (const [args, flag] of cases) {
      const r = await bkg([...args, '--json']);
      expect(r.code, args.join(' ')).toBe(2);
      const e = errorOf(r);
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message.startsWith(`${flag}:`), e.message).toBe(true);
    }
    // a directory whose key is not the certificate's is no CA
    const other = join(dir, 'other');
    json(await bkg(['ca', 'init', '--dir', other, '--json']));
    writeFileSync(join(other, 'ca.key'), readFileSync(join(ca, 'ca.key')));
    const mismatched = await bkg(['ca', 'issue', 'gamma', '--dir', other, '--json']);
    expect(errorOf(mismatched)).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(errorOf(mismatched).message).toMatch(/^--dir: ca\.key is not the key of ca\.crt/);
  });

  it('is used by default from $BKG_HOME/ca', async () => {
    const home = mkdtempSync(join(tmpdir(), 'bkg-ca-home-'));
    cleanup.push(home);
    const r = json<Issued>(await bkg(['ca', 'init', '--json'], { env: { BKG_HOME: home } }));
    expect(r.cert).toBe(join(home, 'ca', 'ca.crt'));
    const h = json<Issued>(await bkg(['ca', 'issue', 'delta', '--json'], { env: { BKG_HOME: home } }));
    expect(h.cert).toBe(join(home, 'ca', 'delta.crt'));
  });

  it('issues certificates that complete a mutual-TLS handshake; another CA\'s are refused', async () => {
    const { alpha, beta } = files as { alpha: HostFiles; beta: HostFiles };
    seen = [];
    const ok = await tlsGet(port, '/', { client: alpha, trust: beta });
    expect(ok).toMatchObject({ status: 200, body: { client: 'alpha' } });
    expect(seen).toEqual(['alpha']);

    const stranger = await makeCa(['alpha']);
    cleanup.push(stranger.dir);
    const foreign = stranger.hosts.alpha as HostFiles;
    // a client certificate of another CA: the server refuses the handshake
    expect((await tlsGet(port, '/', { client: foreign, trust: beta })).error).toBeDefined();
    // no client certificate at all
    expect((await tlsGet(port, '/', { trust: beta })).error).toBeDefined();
    // and the client refuses a server whose certificate another CA signed
    expect((await tlsGet(port, '/', { client: alpha, trust: foreign })).error).toMatch(/CERT|SIGNATURE/);
    expect(seen).toEqual(['alpha']);
  });
});
