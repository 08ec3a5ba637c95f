/**
 * `bkg secret set|ls|rm`. A value is read from stdin (typed unseen at a terminal) or a file, never
 * from the command line, and sealed to the daemon's public key (libsodium sealed box, loaded here
 * only) before it leaves this process: the daemon receives ciphertext, and no answer carries it back.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { BkgError } from '../api/errors.js';
import { ENV_NAME_PATTERN, NAME_PATTERN } from '../api/names.js';
import { SEAL_ALGORITHM, SECRET_MAX_BYTES, type SecretView } from '../api/secrets.js';
import type { DaemonClient } from '../client/daemon-client.js';
import { listSecrets, removeSecret, secretPublicKey, setSecret } from '../client/secrets.js';
import { ago, renderTable } from './format.js';

type Sodium = typeof import('libsodium-wrappers').default;

/** Why a value on the command line is refused, and what to do instead. */
export function valueInArgv(name: string): BkgError {
  return new BkgError('INVALID_ARGUMENT', 'a secret\'s value is never taken from the command line (it would stay in shell history and be visible to every user in `ps`)', {
    hint: `Pipe it in (\`printf %s "$VALUE" | bkg secret set ${name}\`), type it at the prompt (\`bkg secret set ${name}\`), or read it from a file (\`bkg secret set ${name} --file PATH\`).`,
  });
}

export function checkSecretName(name: string): void {
  if (!ENV_NAME_PATTERN.test(name) || name.length > 128) {
    throw new BkgError('INVALID_ARGUMENT', `NAME: "${name}" is not a valid secret name: letters, digits and _, not starting with a digit (it is also the variable and file name in a sandbox)`, { details: { field: 'name' } });
  }
}

export function checkNamespace(ns: string | undefined): void {
  if (ns !== undefined && !NAME_PATTERN.test(ns)) throw new BkgError('INVALID_ARGUMENT', `--namespace: "${ns}" must match ${NAME_PATTERN.source}`, { details: { field: 'namespace' } });
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream as AsyncIterable<Buffer | string>) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    size += b.length;
    if (size > SECRET_MAX_BYTES + 2) throw new BkgError('PAYLOAD_TOO_LARGE', `a secret's value may hold at most ${SECRET_MAX_BYTES} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** A line typed at the terminal without echo (Enter ends it; Ctrl-C aborts). */
function readHidden(prompt: string): Promise<Buffer> {
  const input = process.stdin;
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    const chars: string[] = [];
    const done = (err: BkgError | null) => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(Buffer.from(chars.join(''), 'utf8'));
    };
    const onData = (d: Buffer) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done(null);
        if (ch === '\u0003') return done(new BkgError('INVALID_ARGUMENT', 'cancelled: no secret was set'));
        if (ch === '\u007f' || ch === '\b') chars.pop();
        else chars.push(ch);
      }
    };
    input.setRawMode(true);
    input.resume();
    input.on('data', onData);
  });
}

/**
 * The value: the file's bytes as they are (--file), or stdin's with one trailing newline dropped
 * (`echo` adds one), or a line typed at the terminal. Empty or over 64 KiB: refused.
 */
export async function readSecretValue(name: string, opts: { file?: string | undefined }): Promise<Buffer> {
  let value: Buffer;
  if (opts.file !== undefined) {
    try {
      value = await readFile(opts.file);
    } catch (err) {
      throw new BkgError('INVALID_ARGUMENT', `--file: cannot read ${opts.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { details: { field: 'file' } });
    }
  } else if (process.stdin.isTTY) {
    value = await readHidden(`Value of ${name} (not shown; Enter ends it): `);
  } else {
    value = await readAll(process.stdin);
    if (value.at(-1) === 0x0a) value = value.subarray(0, value.at(-2) === 0x0d ? -2 : -1);
  }
  if (value.length === 0) throw new BkgError('INVALID_ARGUMENT', `no value for ${name}: ${opts.file !== undefined ? `${opts.file} is empty` : 'stdin was empty'}`, { hint: 'Pipe the value in, or pass --file PATH.' });
  if (value.length > SECRET_MAX_BYTES) throw new BkgError('PAYLOAD_TOO_LARGE', `a secret's value may hold at most ${SECRET_MAX_BYTES} bytes (this one has ${value.length})`);
  return value;
}

/** libsodium, loaded only by the secret commands (the fast path never pays for it). */
async function sodium(): Promise<Sodium> {
  const s = createRequire(import.meta.url)('libsodium-wrappers') as Sodium;
  await s.ready;
  return s;
}

/** The value sealed to `publicKey` (base64), as base64; the value's buffer is wiped. */
export async function sealValue(value: Buffer, publicKey: string): Promise<string> {
  const s = await sodium();
  const key = Buffer.from(publicKey, 'base64');
  if (key.length !== s.crypto_box_PUBLICKEYBYTES) throw new BkgError('INTERNAL', `the daemon's public key has ${key.length} bytes, not ${s.crypto_box_PUBLICKEYBYTES}`);
  try {
    return Buffer.from(s.crypto_box_seal(value, key)).toString('base64');
  } finally {
    value.fill(0);
  }
}

export async function secretSet(c: DaemonClient, name: string, opts: { file?: string | undefined; namespace?: string | undefined }): Promise<SecretView> {
  checkSecretName(name);
  checkNamespace(opts.namespace);
  const value = await readSecretValue(name, opts);
  const pk = await secretPublicKey(c);
  if (pk.algorithm !== SEAL_ALGORITHM) throw new BkgError('INTERNAL', `the daemon seals secrets with ${pk.algorithm}; this bkg knows only ${SEAL_ALGORITHM}`);
  return setSecret(c, name, await sealValue(value, pk.public_key), opts.namespace);
}

export async function secretList(c: DaemonClient, namespace?: string): Promise<SecretView[]> {
  checkNamespace(namespace);
  return listSecrets(c, namespace);
}

export async function secretRemove(c: DaemonClient, name: string, namespace?: string): Promise<void> {
  checkSecretName(name);
  checkNamespace(namespace);
  await removeSecret(c, name, namespace);
}

export function renderSecrets(secrets: readonly SecretView[], now = Date.now()): string {
  if (secrets.length === 0) return 'No secrets. Set one with `bkg secret set NAME` (the value from stdin or --file).\n';
  return renderTable(['NAME', 'NAMESPACE', 'CREATED', 'UPDATED', 'UPDATED BY'], secrets.map((s) => [s.name, s.namespace, ago(s.created_at, now), ago(s.updated_at, now), s.updated_by]));
}
