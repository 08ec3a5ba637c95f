/**
 * `bkg ca init` and `bkg ca issue`: the operator CA of a fleet and the host certificates it signs,
 * written as PEM files (private keys 0600). Existing files are never overwritten. The certificates
 * themselves are built in ./ca/certs.ts (loaded only by these commands).
 */
import { lstat, mkdir, readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { BkgError } from '../api/errors.js';
import { bkgHome } from '../client/endpoint.js';
import type { CertSummary } from './ca/certs.js';

/** A host name as certificates and BKG_HOST_NAME carry it. */
const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62})$/;
/** A DNS name: labels of letters, digits and '-', a leading '*.' allowed. */
const DNS = /^(\*\.)?([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export const DEFAULT_IPS = ['127.0.0.1'];
export const DEFAULT_DNS = ['localhost'];

export interface CaResult {
  cert: string;
  key: string;
  certificate: CertSummary;
}

/** The CA directory: --dir, or $BKG_HOME/ca. */
export function caDir(dir: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (dir === undefined) return join(bkgHome(env), 'ca');
  if (dir === '') throw new BkgError('INVALID_ARGUMENT', '--dir: must name a directory');
  return resolve(dir);
}

/** Write a new file; CONFLICT when it exists (checked by the create itself, so nothing is ever overwritten). */
async function create(path: string, data: string, mode: number): Promise<void> {
  try {
    await writeFile(path, data, { flag: 'wx', mode });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new BkgError('CONFLICT', `${path} already exists; bkg ca never overwrites a certificate or key`, { hint: 'Move it away first, or pick another --dir / --out.', details: { path } });
    }
    throw err;
  }
}

async function refuseExisting(paths: string[]): Promise<void> {
  for (const path of paths) {
    const exists = await lstat(path).then(() => true, (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? false : Promise.reject(err)));
    if (exists) throw new BkgError('CONFLICT', `${path} already exists; bkg ca never overwrites a certificate or key`, { hint: 'Move it away first, or pick another --dir / --out.', details: { path } });
  }
}

export async function caInit(opts: { dir?: string; env?: NodeJS.ProcessEnv }): Promise<CaResult> {
  const dir = caDir(opts.dir, opts.env);
  const cert = join(dir, 'ca.crt');
  const key = join(dir, 'ca.key');
  await refuseExisting([cert, key]);
  const { createCa, summarize } = await import('./ca/certs.js');
  const pair = await createCa();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await create(key, pair.key, 0o600);
  await create(cert, pair.cert, 0o644);
  return { cert, key, certificate: await summarize(pair.cert) };
}

export interface IssueOptions {
  name: string;
  dir?: string;
  ip?: string[];
  dns?: string[];
  out?: string;
  env?: NodeJS.ProcessEnv;
}

export async function caIssue(opts: IssueOptions): Promise<CaResult> {
  if (!NAME.test(opts.name)) throw new BkgError('INVALID_ARGUMENT', `NAME: "${opts.name}" must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit`, { details: { field: 'NAME' } });
  // neither flag: the loopback names (one machine's test fleet); otherwise exactly the names given
  const given = Boolean(opts.ip?.length || opts.dns?.length);
  const ips = given ? (opts.ip ?? []) : DEFAULT_IPS;
  const dns = given ? (opts.dns ?? []) : DEFAULT_DNS;
  for (const ip of ips) if (isIP(ip) === 0) throw new BkgError('INVALID_ARGUMENT', `--ip: "${ip}" is not an IPv4 or IPv6 address`, { details: { field: '--ip' } });
  for (const name of dns) if (name.length > 253 || !DNS.test(name)) throw new BkgError('INVALID_ARGUMENT', `--dns: "${name}" is not a DNS name`, { details: { field: '--dns' } });
  const dir = caDir(opts.dir, opts.env);
  if (opts.out === '') throw new BkgError('INVALID_ARGUMENT', '--out: must name a directory');
  const out = opts.out === undefined ? dir : resolve(opts.out);
  let ca: { cert: string; key: string };
  try {
    ca = { cert: await readFile(join(dir, 'ca.crt'), 'utf8'), key: await readFile(join(dir, 'ca.key'), 'utf8') };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    throw new BkgError('INVALID_ARGUMENT', `--dir: there is no CA in ${dir} (ca.crt and ca.key)`, { hint: 'Make one with `bkg ca init` (or pass --dir where it is).', details: { field: '--dir' } });
  }
  const cert = join(out, `${opts.name}.crt`);
  const key = join(out, `${opts.name}.key`);
  await refuseExisting([cert, key]);
  const { issueHost, summarize } = await import('./ca/certs.js');
  const pair = await issueHost(ca, { name: opts.name, ips, dns, caFlag: '--dir' });
  await mkdir(out, { recursive: true, mode: 0o700 });
  await create(key, pair.key, 0o600);
  await create(cert, pair.cert, 0o644);
  return { cert, key, certificate: await summarize(pair.cert) };
}

export function renderCa(r: CaResult, what: 'ca' | 'host'): string {
  const c = r.certificate;
  const names = [...c.dns, ...c.ip];
  const lines = [
    `certificate  ${r.cert}`,
    `key          ${r.key} (0600)`,
    `subject      ${c.subject}`,
    ...(names.length ? [`names        ${names.join(', ')}`] : []),
    `expires      ${c.not_after}`,
    `sha256       ${c.fingerprint_sha256}`,
  ];
  const next = what === 'ca'
    ? 'Next: `bkg ca issue HOST --ip ADDRESS` for each host; give every host ca.crt as BKG_TLS_CA and keep ca.key offline.'
    : 'On that host: BKG_TLS_CERT and BKG_TLS_KEY name these files, BKG_TLS_CA the CA certificate, BKG_PEER_PORT the peer listener\'s port.';
  return `${lines.join('\n')}\n${next}\n`;
}
