#!/usr/bin/env node
/**
 * A signed release: packs the package (`npm pack`, without its lifecycle scripts: build first),
 * writes the SBOM (scripts/sbom.mjs), and an in-toto Statement v1 whose SLSA provenance v1
 * predicate names the sha256 digests of the tarball, the SBOM and package-lock.json, signed with
 * an Ed25519 key in a DSSE envelope. `bkg verify-release ENVELOPE --key PUBLIC.pem` checks it.
 *
 *   node scripts/release.mjs --key KEY.pem [--out DIR]   (npm run release -- --key ...; or BKG_RELEASE_KEY=KEY.pem)
 *   node scripts/release.mjs --new-key KEY.pem           (writes KEY.pem (0600) and KEY.pem.pub)
 *
 * In DIR (default release/): NAME-VERSION.tgz, NAME-VERSION.cdx.json, package-lock.json (the copy
 * the digest is of), and NAME-VERSION.intoto.json (the envelope).
 */
import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSbom } from './sbom.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const PREDICATE_TYPE = 'https://slsa.dev/provenance/v1';
export const BUILD_TYPE = 'urn:bkg:buildtype:npm-pack:v1';

/** DSSE's pre-authentication encoding: what is signed (never the payload alone). */
export function pae(type, body) {
  return Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${body.length} `), body]);
}

export const sha256File = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** The key id: sha256 of the public key's SubjectPublicKeyInfo (DER). */
export function keyIdOf(publicKey) {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}

export function newKey(path) {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(`${path}.pub`, publicKey.export({ type: 'spki', format: 'pem' }));
  return { private: path, public: `${path}.pub`, keyid: keyIdOf(publicKey) };
}

function git(args, cwd) {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/** Sign an in-toto statement as a DSSE envelope with an Ed25519 private key (PEM). */
export function signStatement(statement, keyPem) {
  const key = createPrivateKey(keyPem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`the signing key is ${key.asymmetricKeyType}, not Ed25519`);
  const body = Buffer.from(JSON.stringify(statement));
  return {
    payloadType: PAYLOAD_TYPE,
    payload: body.toString('base64'),
    signatures: [{ keyid: keyIdOf(createPublicKey(key)), sig: sign(null, pae(PAYLOAD_TYPE, body), key).toString('base64') }],
  };
}

export function release({ root = ROOT, out = join(ROOT, 'release'), keyPath }) {
  const startedOn = new Date().toISOString();
  const keyPem = readFileSync(keyPath);
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const stem = `${pkg.name}-${pkg.version}`;
  mkdirSync(out, { recursive: true });
  const sbom = join(out, `${stem}.cdx.json`);
  writeSbom(sbom, root);
  // the package as published; its lifecycle scripts (prepare = the full build) are not run here
  const packed = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', out], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
  const tarball = join(out, packed[0].filename);
  const lock = join(out, 'package-lock.json');
  copyFileSync(join(root, 'package-lock.json'), lock);
  const commit = git(['rev-parse', 'HEAD'], root);
  const dirty = commit !== null && git(['status', '--porcelain', '--untracked-files=no'], root) !== '';
  const remote = git(['config', '--get', 'remote.origin.url'], root);
  const statement = {
    _type: STATEMENT_TYPE,
    subject: [tarball, sbom, lock].map((p) => ({ name: basename(p), digest: { sha256: sha256File(p) } })),
    predicateType: PREDICATE_TYPE,
    predicate: {
      buildDefinition: {
        buildType: BUILD_TYPE,
        externalParameters: { package: `${pkg.name}@${pkg.version}`, command: 'npm pack --ignore-scripts' },
        internalParameters: { node: process.version, platform: `${process.platform}-${process.arch}`, ...(commit ? { dirty } : {}) },
        resolvedDependencies: commit ? [{ uri: `git+${remote ?? 'file://' + root}`, digest: { gitCommit: commit } }] : [],
      },
      runDetails: {
        builder: { id: 'urn:bkg:builder:scripts/release.mjs' },
        metadata: { invocationId: randomUUID(), startedOn, finishedOn: new Date().toISOString() },
      },
    },
  };
  const envelope = signStatement(statement, keyPem);
  const envelopePath = join(out, `${stem}.intoto.json`);
  writeFileSync(envelopePath, `${JSON.stringify(envelope, null, 2)}\n`);
  return { envelope: envelopePath, tarball, sbom, lock, statement };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const fresh = arg('--new-key');
  if (fresh) {
    const k = newKey(resolve(fresh));
    process.stderr.write(`bkg: wrote an Ed25519 signing key to ${k.private} (keep it secret) and its public key to ${k.public} (key id ${k.keyid})\n`);
    process.exit(0);
  }
  const keyPath = arg('--key') ?? process.env.BKG_RELEASE_KEY;
  if (!keyPath) {
    process.stderr.write('bkg: release needs an Ed25519 signing key: --key FILE or BKG_RELEASE_KEY=FILE (make one with --new-key FILE)\n');
    process.exit(2);
  }
  const r = release({ keyPath: resolve(keyPath), ...(arg('--out') ? { out: resolve(arg('--out')) } : {}) });
  process.stderr.write(`bkg: released ${basename(r.tarball)}, ${basename(r.sbom)} and ${basename(r.lock)}; signed provenance in ${r.envelope}\n`);
  process.stdout.write(`${r.envelope}\n`);
}
