/**
 * `npm run release` packs the package, writes the SBOM and a signed in-toto/SLSA provenance (a DSSE
 * envelope, Ed25519); `bkg verify-release` (the real CLI) accepts it and refuses, with typed errors
 * and exit code 6, a changed file, a changed statement, another key or a missing file.
 */
import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/runtime/host.js';
import { bkg } from '../helpers/cli.js';

const root = packageRoot();
const sha256 = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

interface Envelope {
  payloadType: string;
  payload: string;
  signatures: { keyid: string; sig: string }[];
}
interface Statement {
  _type: string;
  subject: { name: string; digest: { sha256: string } }[];
  predicateType: string;
  predicate: { buildDefinition: { buildType: string; externalParameters: Record<string, string>; resolvedDependencies: { uri: string; digest: { gitCommit: string } }[] }; runDetails: { builder: { id: string } } };
}

describe('npm run release and bkg verify-release', () => {
  let dir: string;
  let out: string;
  let key: string;
  let envelopePath: string;
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  const verifyCli = (file: string, keyPath = `${key}.pub`, extra: string[] = []) => bkg(['verify-release', file, '--key', keyPath, '--json', ...extra]);
  const errorOf = (r: { stdout: string; stderr: string }): { code: string; details?: Record<string, unknown> } => (JSON.parse(r.stdout || r.stderr) as { error: { code: string } }).error;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bkg-release-'));
    out = join(dir, 'out');
    key = join(dir, 'keys', 'release.pem');
    execFileSync(process.execPath, [join(root, 'scripts', 'release.mjs'), '--new-key', key], { stdio: 'ignore' });
    expect(statSync(key).mode & 0o777).toBe(0o600);
    envelopePath = execFileSync('npm', ['run', '--silent', 'release', '--', '--key', key, '--out', out], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('signs an in-toto Statement v1 with SLSA provenance naming the tarball, the SBOM and the lockfile by sha256', () => {
    expect(envelopePath).toBe(join(out, `bkg-${version}.intoto.json`));
    const env = JSON.parse(readFileSync(envelopePath, 'utf8')) as Envelope;
    expect(env.payloadType).toBe('application/vnd.in-toto+json');
    // checked here independently of both the script and the CLI: DSSE's PAE, Ed25519
    const body = Buffer.from(env.payload, 'base64');
    const pae = Buffer.concat([Buffer.from(`DSSEv1 ${env.payloadType.length} ${env.payloadType} ${body.length} `), body]);
    const pub = createPublicKey(readFileSync(`${key}.pub`));
    expect(verify(null, pae, pub, Buffer.from(env.signatures[0]?.sig ?? '', 'base64'))).toBe(true);
    expect(env.signatures[0]?.keyid).toBe(createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex'));

    const st = JSON.parse(body.toString()) as Statement;
    expect(st._type).toBe('https://in-toto.io/Statement/v1');
    expect(st.predicateType).toBe('https://slsa.dev/provenance/v1');
    expect(st.subject.map((s) => s.name)).toEqual([`bkg-${version}.tgz`, `bkg-${version}.cdx.json`, 'package-lock.json']);
    for (const s of st.subject) expect(s.digest.sha256, s.name).toBe(sha256(join(out, s.name)));
    expect(sha256(join(out, 'package-lock.json'))).toBe(sha256(join(root, 'package-lock.json')));
    expect(st.predicate.buildDefinition.externalParameters.package).toBe(`bkg@${version}`);
    expect(st.predicate.buildDefinition.resolvedDependencies[0]?.digest.gitCommit).toMatch(/^[0-9a-f]{40}$/);
    // the tarball is the package as npm packs it
    const listing = execFileSync('tar', ['-tzf', join(out, `bkg-${version}.tgz`)], { encoding: 'utf8' });
    expect(listing).toContain('package/package.json');
    expect(listing).toContain('package/bin/run.js');
    expect((JSON.parse(readFileSync(join(out, `bkg-${version}.cdx.json`), 'utf8')) as { bomFormat: string }).bomFormat).toBe('CycloneDX');
  });

  it('bkg verify-release accepts it', async () => {
    const r = await verifyCli(envelopePath);
    expect(r.code, r.stderr).toBe(0);
    const v = JSON.parse(r.stdout) as { verified: boolean; subjects: { name: string }[]; commit: string };
    expect(v.verified).toBe(true);
    expect(v.subjects.map((s) => s.name)).toHaveLength(3);
    const human = await bkg(['verify-release', envelopePath, '--key', `${key}.pub`]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^Verified: signed by key [0-9a-f]{64}/);
  });

  it('refuses a changed tarball, a missing SBOM, an edited statement, another key and a file that is no envelope', async () => {
    const copy = join(dir, 'copy');
    const fresh = (): string => {
      rmSync(copy, { recursive: true, force: true });
      execFileSync('cp', ['-r', out, copy]);
      return join(copy, `bkg-${version}.intoto.json`);
    };

    let env = fresh();
    appendFileSync(join(copy, `bkg-${version}.tgz`), 'x');
    let r = await verifyCli(env);
    expect(r.code).toBe(6);
    expect(errorOf(r)).toMatchObject({ code: 'DIGEST_MISMATCH', details: { subject: `bkg-${version}.tgz` } });

    env = fresh();
    rmSync(join(copy, `bkg-${version}.cdx.json`));
    r = await verifyCli(env);
    expect(r.code).toBe(6);
    expect(errorOf(r)).toMatchObject({ code: 'DIGEST_MISMATCH', details: { subject: `bkg-${version}.cdx.json`, actual: null } });

    // a statement edited to match a changed tarball: the signature no longer holds
    env = fresh();
    appendFileSync(join(copy, `bkg-${version}.tgz`), 'x');
    const e = JSON.parse(readFileSync(env, 'utf8')) as Envelope;
    const st = JSON.parse(Buffer.from(e.payload, 'base64').toString()) as Statement;
    (st.subject[0] as { digest: { sha256: string } }).digest.sha256 = sha256(join(copy, `bkg-${version}.tgz`));
    writeFileSync(env, JSON.stringify({ ...e, payload: Buffer.from(JSON.stringify(st)).toString('base64') }));
    r = await verifyCli(env);
    expect(r.code).toBe(6);
    expect(errorOf(r).code).toBe('SIGNATURE_INVALID');

    // another publisher's key
    env = fresh();
    const other = join(dir, 'keys', 'other.pem');
    execFileSync(process.execPath, [join(root, 'scripts', 'release.mjs'), '--new-key', other], { stdio: 'ignore' });
    r = await verifyCli(env, `${other}.pub`);
    expect(r.code).toBe(6);
    expect(errorOf(r).code).toBe('SIGNATURE_INVALID');

    // not an envelope; no key
    const notEnvelope = join(copy, 'package-lock.json');
    r = await verifyCli(notEnvelope);
    expect(r.code).toBe(2);
    expect(errorOf(r).code).toBe('INVALID_ARGUMENT');
    r = await bkg(['verify-release', env, '--json'], { env: { BKG_RELEASE_PUBLIC_KEY: '' } });
    expect(r.code).toBe(2);
    // the files elsewhere: --dir
    copyFileSync(env, join(dir, 'envelope.json'));
    r = await verifyCli(join(dir, 'envelope.json'), `${key}.pub`, ['--dir', copy]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  }, 60_000);
});
