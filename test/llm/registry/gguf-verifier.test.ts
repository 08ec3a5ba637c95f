/** The GGUF verifier itself, run with the host's node and the registry's command line (the registry runs it in a sandbox). */
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprintOf } from '../../../src/llm/registry/index.js';
import { verifierArgv, verifierFile } from '../../../src/llm/registry/verify.js';
import { copyModel, MODEL_SHA256, MODEL_SIZE, sharedModelPath } from './helpers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface Out {
  ok: boolean;
  reason?: string;
  sha256: string | null;
  size: number | null;
  signed_by?: string | null;
  gguf?: Record<string, unknown>;
  sandbox: { hostname: string; uid: number | null; interfaces: string[] };
}

function verify(file: string, env: Record<string, string> = {}): Out {
  const [node, ...args] = verifierArgv(process.execPath) as [string, ...string[]];
  const out = execFileSync(node, args, { env: { PATH: process.env.PATH ?? '', BKG_VERIFY_FILE: file, ...env }, encoding: 'utf8' });
  const lines = out.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0] as string) as Out;
}

/** A minimal GGUF v3 file: header, metadata, one F32 tensor of `n` elements. */
function gguf(opts: { version?: number; n?: number; data?: number; magic?: string; tensorCount?: number } = {}): Buffer {
  const parts: Buffer[] = [];
  const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); parts.push(b); };
  const u64 = (v: number | bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); parts.push(b); };
  const str = (s: string) => { u64(Buffer.byteLength(s)); parts.push(Buffer.from(s)); };
  const n = opts.n ?? 8;
  parts.push(Buffer.from(opts.magic ?? 'GGUF', 'latin1'));
  u32(opts.version ?? 3);
  u64(opts.tensorCount ?? 1);
  u64(2);
  str('general.architecture'); u32(8); str('test');
  str('tokenizer.ggml.tokens'); u32(9); u32(8); u64(3); str('a'); str('bb'); str('ccc');
  str('weight'); u32(1); u64(n); u32(0); u64(0);
  const header = Buffer.concat(parts);
  const dataOffset = Math.ceil(header.length / 32) * 32;
  return Buffer.concat([header, Buffer.alloc(dataOffset - header.length), Buffer.alloc(opts.data ?? n * 4, 1)]);
}

describe('the GGUF verifier', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bkg-verify-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const write = async (name: string, data: Buffer | string) => {
    const p = join(dir, name);
    await writeFile(p, data);
    return p;
  };

  it('accepts a well-formed GGUF file and reports its digest and structure', async () => {
    const data = gguf();
    const out = verify(await write('ok.gguf', data));
    expect(out).toMatchObject({ ok: true, sha256: createHash('sha256').update(data).digest('hex'), size: data.length, signed_by: null });
    expect(out.gguf).toMatchObject({ version: 3, tensor_count: 1, kv_count: 2, architecture: 'test', alignment: 32, data_end: data.length });
    expect(typeof out.sandbox.hostname).toBe('string');
  });

  it.skipIf(!sharedModelPath())('accepts the real stories260K model', async () => {
    const out = verify(await copyModel(dir));
    expect(out).toMatchObject({ ok: true, sha256: MODEL_SHA256, size: MODEL_SIZE });
    expect(out.gguf).toMatchObject({ version: 3, tensor_count: 48, kv_count: 19, architecture: 'llama', unknown_tensor_types: 0 });
  });

  it.each([
    ['bad magic', gguf({ magic: 'GGML' }), /not a GGUF file: bad magic/],
    ['version 0', gguf({ version: 0 }), /unsupported GGUF version 0/],
    ['version 4', gguf({ version: 4 }), /unsupported GGUF version 4/],
    ['missing tensor data', gguf({ data: 16 }), /truncated: tensor data ends at byte/],
    ['header only', gguf().subarray(0, 20), /truncated/],
    ['cut inside the metadata', gguf().subarray(0, 70), /truncated: the file ends inside the GGUF/],
    ['an absurd tensor count', gguf({ tensorCount: 2 ** 40 }), /implausible GGUF tensor count/],
    ['text', Buffer.from('just some text, not a model'), /not a GGUF file/],
    ['empty', Buffer.alloc(0), /not a GGUF file: only 0 bytes/],
  ])('rejects %s', async (name, data, reason) => {
    const out = verify(await write(`${name.replace(/\W+/g, '-')}.gguf`, data));
    expect(out.ok).toBe(false);
    expect(out.reason).toMatch(reason);
  });

  it('checks the expected sha256', async () => {
    const file = await write('sha.gguf', gguf());
    const good = createHash('sha256').update(readFileSync(file)).digest('hex');
    expect(verify(file, { BKG_VERIFY_SHA256: good }).ok).toBe(true);
    const out = verify(file, { BKG_VERIFY_SHA256: 'ff'.repeat(32) });
    expect(out).toMatchObject({ ok: false, sha256: good });
    expect(out.reason).toMatch(/sha256 mismatch: expected f+, got [0-9a-f]{64}/);
  });

  it('verifies an Ed25519 signature over the raw digest against the trusted keys', async () => {
    const file = await write('signed.gguf', gguf());
    const digest = createHash('sha256').update(readFileSync(file)).digest();
    const a = generateKeyPairSync('ed25519');
    const b = generateKeyPairSync('ed25519');
    const raw = (k: typeof a) => Buffer.from(k.publicKey.export({ format: 'jwk' }).x as string, 'base64url');
    const keys = JSON.stringify([a, b].map((k) => ({ fingerprint: fingerprintOf(raw(k)), key: raw(k).toString('base64') })));
    const sigB = sign(null, digest, b.privateKey).toString('base64');

    expect(verify(file, { BKG_VERIFY_SIG: sigB, BKG_VERIFY_KEYS: keys })).toMatchObject({ ok: true, signed_by: fingerprintOf(raw(b)) });

    const onlyA = JSON.stringify([{ fingerprint: fingerprintOf(raw(a)), key: raw(a).toString('base64') }]);
    expect(verify(file, { BKG_VERIFY_SIG: sigB, BKG_VERIFY_KEYS: onlyA }).reason).toMatch(/untrusted signer/);
    expect(verify(file, { BKG_VERIFY_SIG: sigB, BKG_VERIFY_KEYS: '[]' }).reason).toMatch(/no keys are trusted/);
    const overHex = sign(null, Buffer.from(digest.toString('hex')), b.privateKey).toString('base64');
    expect(verify(file, { BKG_VERIFY_SIG: overHex, BKG_VERIFY_KEYS: keys }).reason).toMatch(/signature does not verify/);
    expect(verify(file, { BKG_VERIFY_SIG: Buffer.alloc(10).toString('base64'), BKG_VERIFY_KEYS: keys }).reason).toMatch(/malformed signature/);
  });

  it.skipIf(!sharedModelPath())('rejects corrupt copies of the real model', async () => {
    const model = readFileSync(await copyModel(dir));
    const truncated = verify(await write('stories-truncated.gguf', model.subarray(0, model.length - 4096)));
    expect(truncated).toMatchObject({ ok: false, size: model.length - 4096 });
    expect(truncated.reason).toMatch(/truncated: tensor data ends at byte \d+ but the file has/);

    const badMagic = Buffer.from(model);
    badMagic.write('GGML', 0, 'latin1');
    expect(verify(await write('stories-magic.gguf', badMagic)).reason).toMatch(/not a GGUF file: bad magic/);

    // One flipped bit in the tensor data: the structure still parses, the digest gives it away.
    const flipped = Buffer.from(model);
    flipped[flipped.length - 100] = (flipped[flipped.length - 100] ?? 0) ^ 1;
    const out = verify(await write('stories-flipped.gguf', flipped), { BKG_VERIFY_SHA256: MODEL_SHA256 });
    expect(out.ok).toBe(false);
    expect(out.reason).toMatch(new RegExp(`sha256 mismatch: expected ${MODEL_SHA256}, got (?!${MODEL_SHA256})[0-9a-f]{64}`));
  });
});

describe('the built verifier', () => {
  it('ships in dist beside the registry, and the built registry runs that file', async () => {
    const built = join(ROOT, 'dist', 'llm', 'registry', 'gguf-verifier.js');
    expect(verifierFile()).toBe(built);
    const fromDist = execFileSync(process.execPath, ['--input-type=module', '-e', "const m = await import('./dist/llm/registry/verify.js'); process.stdout.write(m.verifierFile());"], { cwd: ROOT, encoding: 'utf8' });
    expect(fromDist).toBe(built);
  });

  it('imports nothing but node built-ins, so its text runs alone in the sandbox', () => {
    const source = readFileSync(verifierFile(), 'utf8');
    const specifiers = [...source.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]);
    expect(specifiers.length).toBeGreaterThan(0);
    expect(specifiers.filter((s) => !s?.startsWith('node:'))).toEqual([]);
    expect(source).not.toMatch(/\bimport\s*\(|\brequire\s*\(/);
  });
});
