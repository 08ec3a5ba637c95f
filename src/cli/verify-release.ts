/**
 * `bkg verify-release ENVELOPE --key PUBLIC.pem`: a release's signed provenance (a DSSE envelope
 * around an in-toto Statement v1 with an SLSA provenance predicate, written by scripts/release.mjs)
 * checked before anything in it is believed: the Ed25519 signature over DSSE's pre-authentication
 * encoding, then the sha256 of every subject (the tarball, the SBOM, the lockfile) against the files
 * beside the envelope. Any failure is a typed error: SIGNATURE_INVALID, DIGEST_MISMATCH (exit 6),
 * INVALID_ARGUMENT for a file that is not an envelope.
 */
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { BkgError } from '../api/errors.js';

export const PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const PREDICATE_TYPE = 'https://slsa.dev/provenance/v1';

interface Envelope {
  payloadType: string;
  payload: string;
  signatures: { keyid?: string; sig: string }[];
}

interface Subject {
  name: string;
  digest: Record<string, string>;
}

export interface VerifiedRelease {
  verified: true;
  keyid: string;
  predicate_type: string;
  subjects: { name: string; sha256: string; path: string }[];
  /** The git commit the release was built from, when the provenance names one. */
  commit: string | null;
}

const bad = (message: string): BkgError => new BkgError('INVALID_ARGUMENT', message, { details: { field: 'FILE' } });

/** DSSE's pre-authentication encoding (the bytes that are signed). */
export function pae(type: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${body.length} `), body]);
}

export function keyIdOf(key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');
}

function readEnvelope(file: string): Envelope {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw bad(`${file}: not a JSON file (${(err as Error).message})`);
  }
  const e = raw as Partial<Envelope>;
  if (typeof e?.payloadType !== 'string' || typeof e.payload !== 'string' || !Array.isArray(e.signatures) || e.signatures.length === 0) {
    throw bad(`${file}: not a DSSE envelope (payloadType, payload, signatures)`);
  }
  if (e.payloadType !== PAYLOAD_TYPE) throw bad(`${file}: payloadType is ${e.payloadType}, not ${PAYLOAD_TYPE}`);
  return e as Envelope;
}

function publicKey(keyPath: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(readFileSync(keyPath));
  } catch (err) {
    throw new BkgError('INVALID_ARGUMENT', `--key ${keyPath}: not a public key (${(err as Error).message})`, { details: { field: 'key' } });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new BkgError('INVALID_ARGUMENT', `--key ${keyPath}: a ${key.asymmetricKeyType} key, not Ed25519`, { details: { field: 'key' } });
  return key;
}

async function sha256Of(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function verifyRelease(file: string, opts: { keyPath: string; dir?: string }): Promise<VerifiedRelease> {
  const envelope = readEnvelope(file);
  const key = publicKey(opts.keyPath);
  const keyid = keyIdOf(key);
  const body = Buffer.from(envelope.payload, 'base64');
  // a signature by this key over exactly these bytes; nothing in the payload is read before
  const signed = envelope.signatures.some((s) => {
    try {
      return verify(null, pae(envelope.payloadType, body), key, Buffer.from(s.sig, 'base64'));
    } catch {
      return false;
    }
  });
  if (!signed) throw new BkgError('SIGNATURE_INVALID', `${file}: no signature by key ${keyid.slice(0, 16)}… verifies over its payload`, { details: { keyid } });

  let statement: { _type?: unknown; subject?: unknown; predicateType?: unknown; predicate?: { buildDefinition?: { resolvedDependencies?: { digest?: { gitCommit?: string } }[] } } };
  try {
    statement = JSON.parse(body.toString('utf8')) as typeof statement;
  } catch {
    throw bad(`${file}: its signed payload is not JSON`);
  }
  if (statement._type !== STATEMENT_TYPE) throw bad(`${file}: the payload is not an in-toto Statement v1 (_type ${String(statement._type)})`);
  if (statement.predicateType !== PREDICATE_TYPE) throw bad(`${file}: the predicate is ${String(statement.predicateType)}, not SLSA provenance v1`);
  const subjects = statement.subject as Subject[] | undefined;
  if (!Array.isArray(subjects) || subjects.length === 0) throw bad(`${file}: the statement names no subjects`);

  const dir = resolve(opts.dir ?? dirname(file));
  const checked: VerifiedRelease['subjects'] = [];
  for (const s of subjects) {
    const want = s?.digest?.sha256;
    if (typeof s?.name !== 'string' || !/^[0-9a-f]{64}$/.test(want ?? '')) throw bad(`${file}: a subject without a name and a sha256 digest`);
    if (isAbsolute(s.name) || s.name.split(/[\\/]/).includes('..')) throw bad(`${file}: subject ${JSON.stringify(s.name)} is not a plain file name`);
    const path = join(dir, s.name);
    if (!existsSync(path)) throw new BkgError('DIGEST_MISMATCH', `${s.name}: missing from ${dir}`, { details: { subject: s.name, expected: want, actual: null } });
    const got = await sha256Of(path);
    if (got !== want) throw new BkgError('DIGEST_MISMATCH', `${s.name}: sha256 ${got} is not the signed ${want}`, { details: { subject: s.name, expected: want, actual: got } });
    checked.push({ name: s.name, sha256: got, path });
  }
  const commit = statement.predicate?.buildDefinition?.resolvedDependencies?.find((d) => d.digest?.gitCommit)?.digest?.gitCommit ?? null;
  return { verified: true, keyid, predicate_type: PREDICATE_TYPE, subjects: checked, commit };
}

export function renderVerified(r: VerifiedRelease): string {
  return [
    `Verified: signed by key ${r.keyid}${r.commit ? `, built from commit ${r.commit}` : ''}`,
    ...r.subjects.map((s) => `  ${s.name}  sha256:${s.sha256}  ok`),
  ].join('\n') + '\n';
}
