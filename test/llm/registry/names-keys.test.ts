/** Model ids, sources, digests, public keys and signatures. */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fingerprintOf, modelIdFrom, parseContentRange, parsePublicKey, parseSha256, parseSignature, parseSource } from '../../../src/llm/registry/index.js';
import { caught } from '../../helpers/errors.js';

describe('model ids and sources', () => {
  it('derives ids from names and file names', () => {
    expect(modelIdFrom('stories260K.gguf', { fromFile: true })).toBe('stories260k');
    expect(modelIdFrom('Llama 3.2 1B Instruct (Q4_K_M)')).toBe('llama-3.2-1b-instruct-q4_k_m');
    expect(modelIdFrom('..//evil/../name')).toBe('evil-.-name');
    expect(modelIdFrom('x'.repeat(100))).toHaveLength(64);
    expect(caught(() => modelIdFrom('!!!')).code).toBe('INVALID_ARGUMENT');
  });

  it('accepts http(s) URLs and absolute paths only', () => {
    expect(parseSource('https://example.com/a/b.gguf?download=1')).toMatchObject({ kind: 'http' });
    expect(parseSource('/srv/models/a.gguf')).toEqual({ kind: 'file', path: '/srv/models/a.gguf' });
    for (const bad of ['relative/a.gguf', 'ftp://x/y', 'file:///etc/passwd', '', 'https://user:pw@example.com/a.gguf']) {
      expect(caught(() => parseSource(bad)).code, bad).toBe('INVALID_ARGUMENT');
    }
  });

  it('normalises sha256 digests', () => {
    expect(parseSha256('sha256:' + 'AB'.repeat(32))).toBe('ab'.repeat(32));
    expect(caught(() => parseSha256('abc')).code).toBe('INVALID_ARGUMENT');
  });

  it('parses Content-Range', () => {
    expect(parseContentRange('bytes 100-199/200')).toEqual({ start: 100, end: 199, total: 200 });
    expect(parseContentRange('bytes 100-199/*')).toEqual({ start: 100, end: 199, total: null });
    expect(parseContentRange('bytes 100-199/150')).toBeNull();
    expect(parseContentRange('bytes */200')).toBeNull();
    expect(parseContentRange(undefined)).toBeNull();
  });
});

describe('public keys and signatures', () => {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  const der = publicKey.export({ type: 'spki', format: 'der' });

  it('reads PEM, base64 raw, base64 DER and ssh-ed25519 forms of the same key', () => {
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const sshBlob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), raw]);
    for (const form of [pem, raw.toString('base64'), raw.toString('base64url'), der.toString('base64'), `ssh-ed25519 ${sshBlob.toString('base64')} me@host`]) {
      expect(parsePublicKey(form).equals(raw)).toBe(true);
    }
    expect(fingerprintOf(raw)).toMatch(/^[0-9a-f]{16}$/);
  });

  it('refuses other keys and junk', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(caught(() => parsePublicKey(rsa)).message).toMatch(/expected an Ed25519 key/);
    expect(caught(() => parsePublicKey('aGVsbG8=')).code).toBe('INVALID_ARGUMENT');
    expect(caught(() => parsePublicKey('not a key!')).code).toBe('INVALID_ARGUMENT');
  });

  it('reads raw or base64 signatures of 64 bytes', () => {
    const sig = Buffer.alloc(64, 7);
    expect(parseSignature(sig).equals(sig)).toBe(true);
    expect(parseSignature(Buffer.from(sig.toString('base64') + '\n')).equals(sig)).toBe(true);
    expect(caught(() => parseSignature(Buffer.alloc(63))).code).toBe('INVALID_ARGUMENT');
  });
});
