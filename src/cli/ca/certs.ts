/**
 * The certificates of a fleet's mutual TLS, built with @peculiar/x509 over Node's webcrypto: the
 * operator CA (ECDSA P-256, 10 years) and host certificates it signs (server and client, with IP
 * and DNS names). PEM in, PEM out; nothing here touches files.
 */
import 'reflect-metadata'; // @peculiar/x509 (through tsyringe) needs the Reflect metadata API loaded first
import * as x509 from '@peculiar/x509';
import type { webcrypto } from 'node:crypto';
import { BkgError } from '../../api/errors.js';

type Crypto = webcrypto.Crypto;
type CryptoKey = webcrypto.CryptoKey;

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 3600 * 1000;
export const CA_DAYS = 3652;
export const HOST_DAYS = 825;

/** A certificate and its private key (PKCS#8), both PEM. */
export interface PemPair {
  cert: string;
  key: string;
}

/** What a command reports about a certificate it made. */
export interface CertSummary {
  subject: string;
  not_after: string;
  /** SHA-256 of the DER certificate, hex. */
  fingerprint_sha256: string;
  dns: string[];
  ip: string[];
}

function provider(): Crypto {
  x509.cryptoProvider.set(globalThis.crypto);
  return globalThis.crypto;
}

/** Serial numbers: 16 random bytes, positive. */
function serial(): string {
  const b = globalThis.crypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0] as number) & 0x7f;
  return Buffer.from(b).toString('hex');
}

async function pemKey(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await globalThis.crypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

/** Quote a value for an X.500 name. */
function rdn(value: string): string {
  return value.replace(/([,+"\\<>;=#])/g, '\\$1');
}

export async function createCa(opts: { name?: string; now?: Date } = {}): Promise<PemPair> {
  const crypto = provider();
  const now = opts.now ?? new Date();
  const keys = await crypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${rdn(opts.name ?? 'bkg fleet CA')}, O=bkg`,
    keys,
    signingAlgorithm: ALG,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + CA_DAYS * DAY_MS),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  }, crypto);
  return { cert: cert.toString('pem'), key: await pemKey(keys.privateKey) };
}

/** The CA as read back from its files: refused (INVALID_ARGUMENT naming `flag`) unless it is a CA whose key matches. */
async function loadCa(ca: PemPair, flag: string): Promise<{ cert: x509.X509Certificate; key: CryptoKey }> {
  const crypto = provider();
  let cert: x509.X509Certificate;
  let key: CryptoKey;
  try {
    cert = new x509.X509Certificate(ca.cert);
    key = await crypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(ca.key), ALG, false, ['sign']);
  } catch (err) {
    throw new BkgError('INVALID_ARGUMENT', `${flag}: the CA files are not a PEM certificate and a PKCS#8 ECDSA P-256 key (made by \`bkg ca init\`)`, { cause: err });
  }
  const basic = cert.getExtension(x509.BasicConstraintsExtension);
  if (!basic?.ca) throw new BkgError('INVALID_ARGUMENT', `${flag}: ${cert.subject} is not a CA certificate`);
  // the key must be the certificate's: sign a probe and verify it with the certificate's public key
  const probe = new TextEncoder().encode('bkg ca probe');
  const sig = await crypto.subtle.sign(ALG, key, probe);
  if (!(await crypto.subtle.verify(ALG, await cert.publicKey.export(ALG, ['verify'], crypto), sig, probe))) {
    throw new BkgError('INVALID_ARGUMENT', `${flag}: ca.key is not the key of ca.crt`);
  }
  return { cert, key };
}

/** A host certificate for NAME, signed by the CA: TLS server and client, its names in the SAN. */
export async function issueHost(ca: PemPair, opts: { name: string; ips: string[]; dns: string[]; now?: Date; caFlag: string }): Promise<PemPair> {
  const crypto = provider();
  const issuer = await loadCa(ca, opts.caFlag);
  const now = opts.now ?? new Date();
  const keys = await crypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const names = [...opts.dns.map((value) => ({ type: 'dns' as const, value })), ...opts.ips.map((value) => ({ type: 'ip' as const, value }))];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${rdn(opts.name)}, O=bkg`,
    issuer: issuer.cert.subject,
    publicKey: keys.publicKey,
    signingKey: issuer.key,
    signingAlgorithm: ALG,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(Math.min(now.getTime() + HOST_DAYS * DAY_MS, issuer.cert.notAfter.getTime())),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.cert, false, crypto),
    ],
  }, crypto);
  return { cert: cert.toString('pem'), key: await pemKey(keys.privateKey) };
}

export async function summarize(pem: string): Promise<CertSummary> {
  const crypto = provider();
  const cert = new x509.X509Certificate(pem);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const names = san?.names.toJSON() ?? [];
  return {
    subject: cert.subject,
    not_after: cert.notAfter.toISOString(),
    fingerprint_sha256: Buffer.from(await cert.getThumbprint('SHA-256', crypto)).toString('hex'),
    dns: names.filter((n) => n.type === 'dns').map((n) => n.value),
    ip: names.filter((n) => n.type === 'ip').map((n) => n.value),
  };
}
