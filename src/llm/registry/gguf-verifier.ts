/**
 * The model verifier that runs INSIDE a throwaway bkg sandbox (no network, memory- and time-capped).
 * verify.ts passes this file's compiled text (dist/llm/registry/gguf-verifier.js) to
 * `node --input-type=module -e`, so nothing but the model file has to be visible in the sandbox; it
 * must therefore import only node: built-ins (type-only imports are erased), and nothing may import
 * it as a value: loading it runs the check.
 *
 * It treats the file as hostile data and prints exactly one JSON line:
 *
 *   {"ok":true,"sha256":"…","size":N,"gguf":{…},"signed_by":"<fingerprint>"|null,"sandbox":{…}}
 *   {"ok":false,"reason":"…","sha256":"…"|null,"size":N|null,"sandbox":{…}}
 *
 * Checks, in order: the GGUF structure (magic "GGUF", version 1–3, sane counts, every metadata
 * entry and tensor description inside the file, every tensor's data inside the file — so a
 * truncated download fails), the sha256 of the whole file (streamed), the expected digest when
 * one is given, and an Ed25519 signature over the raw 32-byte digest against the trusted keys.
 *
 * Inputs (environment): BKG_VERIFY_FILE (path), BKG_VERIFY_SHA256 (expected hex, optional),
 * BKG_VERIFY_SIG (signature, base64, optional), BKG_VERIFY_KEYS (JSON [{fingerprint, key}] with
 * raw 32-byte public keys in base64, optional).
 *
 * The registry's own mode (BKG_VERIFY_WAIT=1): the sandbox is started while the file is still
 * being downloaded, so its start-up overlaps the download; the verifier waits until its stdin
 * says `go` (the file is complete) and then checks the GGUF structure only. The digest and the
 * signature are the registry's: it hashes the bytes as it writes them (it never trusts a digest
 * from in here), so this mode prints `"sha256": null` and `"signed_by": null`. Stdin ending
 * without `go` means the pull was abandoned: the verifier exits quietly.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { closeSync, createReadStream, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';

/** The GGUF structure of a file that passed. */
export interface GgufSummary {
  version: number;
  tensor_count: number;
  kv_count: number;
  architecture: string | null;
  alignment: number;
  data_offset: number;
  data_end: number;
  unknown_tensor_types: number;
}

/** Where the verifier ran: the registry checks that this is the sandbox it started. */
export interface SandboxFacts {
  hostname: string;
  uid: number | null;
  interfaces: string[];
}

/** The one line the verifier prints. */
export type VerifierOutput =
  | { ok: true; sha256: string | null; size: number; gguf: GgufSummary; signed_by: string | null; sandbox: SandboxFacts }
  | { ok: false; reason: string; sha256: string | null; size: number | null; sandbox: SandboxFacts };

function sandboxFacts(): SandboxFacts {
  let interfaces: string[];
  try {
    interfaces = Object.keys(networkInterfaces()).sort();
  } catch {
    interfaces = ['?'];
  }
  return { hostname: hostname(), uid: typeof process.getuid === 'function' ? process.getuid() : null, interfaces };
}

/** Either outcome without its sandbox facts, which emit() adds last. */
type Outcome<T = VerifierOutput> = T extends unknown ? Omit<T, 'sandbox'> : never;

function emit(result: Outcome): void {
  const line: VerifierOutput = { ...result, sandbox: sandboxFacts() };
  process.stdout.write(JSON.stringify(line) + '\n');
}

/** A reason to refuse the file (anything else thrown is a bug in the verifier). */
class Reject extends Error {}
function reject(reason: string): never {
  throw new Reject(reason);
}

// ggml tensor types: [block size (elements), bytes per block]
const GGML_TYPES: Record<number, readonly [number, number]> = {
  0: [1, 4], 1: [1, 2], 2: [32, 18], 3: [32, 20], 6: [32, 22], 7: [32, 24], 8: [32, 34], 9: [32, 36],
  10: [256, 84], 11: [256, 110], 12: [256, 144], 13: [256, 176], 14: [256, 210], 15: [256, 292],
  16: [256, 66], 17: [256, 74], 18: [256, 98], 19: [256, 50], 20: [32, 18], 21: [256, 110], 22: [256, 82],
  23: [256, 136], 24: [1, 1], 25: [1, 2], 26: [1, 4], 27: [1, 8], 28: [1, 8], 29: [256, 56], 30: [1, 2],
  34: [256, 54], 35: [256, 66], 39: [32, 17],
};
// GGUF metadata value types: fixed widths (0 for variable: string, array)
const VALUE_WIDTH: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 8: 0, 9: 0, 10: 8, 11: 8, 12: 8 };
const MAX_COUNT = 1 << 24;
const WINDOW = 1 << 20;

/** Bounds-checked little-endian reads through a 1 MiB window, so a huge file is never read whole. */
class Reader {
  pos = 0;
  buf: Buffer = Buffer.alloc(0);
  bufStart = 0;
  /** GGUF v2+ counts and lengths are 64-bit; v1's are 32-bit. */
  wide = true;

  constructor(
    private readonly fd: number,
    readonly size: number,
  ) {}

  /** Make `n` bytes at pos readable; returns their offset in buf. */
  need(n: number, what: string): number {
    if (this.pos + n > this.size) reject('truncated: the file ends inside the GGUF ' + what + ' (at byte ' + this.pos + ' of ' + this.size + ')');
    const off = this.pos - this.bufStart;
    if (off >= 0 && off + n <= this.buf.length) return off;
    const len = Math.min(Math.max(n, WINDOW), this.size - this.pos);
    const b = Buffer.alloc(len);
    let got = 0;
    while (got < len) {
      const r = readSync(this.fd, b, got, len - got, this.pos + got);
      if (r === 0) reject('truncated: short read at byte ' + (this.pos + got));
      got += r;
    }
    this.buf = b;
    this.bufStart = this.pos;
    return 0;
  }

  u32(what: string): number {
    const o = this.need(4, what);
    this.pos += 4;
    return this.buf.readUInt32LE(o);
  }

  u64(what: string): number {
    const o = this.need(8, what);
    this.pos += 8;
    const v = this.buf.readBigUInt64LE(o);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) reject('implausible ' + what + ': ' + v);
    return Number(v);
  }

  count(what: string): number {
    return this.wide ? this.u64(what) : this.u32(what);
  }

  skip(n: number, what: string): void {
    if (this.pos + n > this.size) reject('truncated: the file ends inside the GGUF ' + what + ' (needs ' + n + ' bytes at ' + this.pos + ', file has ' + this.size + ')');
    this.pos += n;
  }

  /** A length-prefixed string: its text when `keep` and at most 4 KiB, else skipped (null). */
  str(what: string, keep: boolean): string | null {
    const n = this.count(what + ' length');
    if (n > this.size - this.pos) reject('truncated: a GGUF ' + what + ' of ' + n + ' bytes runs past the end of the file');
    if (keep && n <= 4096) {
      const o = this.need(n, what);
      this.pos += n;
      return this.buf.toString('utf8', o, o + n);
    }
    this.skip(n, what);
    return null;
  }
}

function skipValue(r: Reader, type: number, depth: number): void {
  const w = VALUE_WIDTH[type];
  if (w === undefined) reject('bad GGUF metadata value type ' + type);
  if (w > 0) return r.skip(w, 'metadata value');
  if (type === 8) {
    r.str('metadata string', false);
    return;
  }
  if (depth > 4) reject('GGUF metadata arrays nested too deeply');
  const itemType = r.u32('array type');
  const n = r.count('array length');
  if (n > r.size - r.pos) reject('implausible GGUF array length ' + n);
  const iw = VALUE_WIDTH[itemType];
  if (iw === undefined) reject('bad GGUF array item type ' + itemType);
  if (iw > 0) return r.skip(n * iw, 'metadata array');
  for (let i = 0; i < n; i++) skipValue(r, itemType, depth + 1);
}

/** The values the verifier looks at (u32, u64, string); others are skipped (undefined). */
function readValue(r: Reader, type: number): number | string | null | undefined {
  switch (type) {
    case 4:
      return r.u32('metadata value');
    case 8:
      return r.str('metadata string', true);
    case 10:
      return r.u64('metadata value');
    default:
      skipValue(r, type, 0);
      return undefined;
  }
}

function checkGguf(file: string): { size: number; gguf: GgufSummary } {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const r = new Reader(fd, size);
    if (size < 4) reject('not a GGUF file: only ' + size + ' bytes');
    const o = r.need(4, 'magic');
    const magic = r.buf.toString('latin1', o, o + 4);
    r.pos += 4;
    if (magic !== 'GGUF') reject('not a GGUF file: bad magic ' + JSON.stringify(magic));
    const version = r.u32('version');
    if (version < 1 || version > 3) reject('unsupported GGUF version ' + version + ' (expected 1-3)');
    r.wide = version >= 2;
    const tensorCount = r.count('tensor count');
    const kvCount = r.count('metadata count');
    if (tensorCount > MAX_COUNT || tensorCount > size) reject('implausible GGUF tensor count ' + tensorCount);
    if (kvCount > MAX_COUNT || kvCount > size) reject('implausible GGUF metadata count ' + kvCount);
    let alignment = 32;
    let architecture: string | null = null;
    for (let i = 0; i < kvCount; i++) {
      const key = r.str('metadata key', true);
      if (key === null) reject('implausible GGUF metadata key length');
      const type = r.u32('metadata type');
      const value = readValue(r, type);
      if (key === 'general.alignment') {
        if (typeof value !== 'number' || value === 0 || (value & (value - 1)) !== 0) reject('bad general.alignment ' + value);
        alignment = value;
      }
      if (key === 'general.architecture' && typeof value === 'string') architecture = value;
    }
    const tensors: { offset: number; bytes: number | null }[] = [];
    for (let i = 0; i < tensorCount; i++) {
      const name = r.str('tensor name', true);
      const nDims = r.u32('tensor dimensions');
      if (nDims < 1 || nDims > 4) reject('tensor ' + name + ': implausible number of dimensions ' + nDims);
      let elements = 1n;
      let rowElements = 0;
      for (let d = 0; d < nDims; d++) {
        const n = r.count('tensor shape');
        if (d === 0) rowElements = n;
        elements *= BigInt(n);
      }
      const type = r.u32('tensor type');
      const offset = r.u64('tensor offset');
      if (offset % alignment !== 0) reject('tensor ' + name + ': offset ' + offset + ' is not aligned to ' + alignment);
      const t = GGML_TYPES[type];
      let bytes: number | null = null;
      if (t) {
        if (rowElements % t[0] !== 0) reject('tensor ' + name + ': row of ' + rowElements + ' elements is not a whole number of blocks');
        const b = (elements / BigInt(t[0])) * BigInt(t[1]);
        if (b > BigInt(size)) reject('truncated: tensor ' + name + ' needs ' + b + ' bytes, more than the whole file');
        bytes = Number(b);
      }
      tensors.push({ offset, bytes });
    }
    const dataOffset = Math.ceil(r.pos / alignment) * alignment;
    let dataEnd = dataOffset;
    let unknownTypes = 0;
    for (const t of tensors) {
      const end = dataOffset + t.offset + (t.bytes === null ? 0 : t.bytes);
      if (t.bytes === null) unknownTypes++;
      if (end > dataEnd) dataEnd = end;
    }
    if (tensorCount > 0 && dataEnd > size) reject('truncated: tensor data ends at byte ' + dataEnd + ' but the file has ' + size + ' bytes');
    if (size <= r.pos) reject('truncated: nothing after the GGUF header');
    return {
      size,
      gguf: { version, tensor_count: tensorCount, kv_count: kvCount, architecture, alignment, data_offset: dataOffset, data_end: dataEnd, unknown_tensor_types: unknownTypes },
    };
  } finally {
    closeSync(fd);
  }
}

function sha256Of(file: string): Promise<Buffer> {
  return new Promise((resolve, rejectP) => {
    const h = createHash('sha256');
    const s = createReadStream(file, { highWaterMark: 1 << 20 });
    s.on('data', (c) => h.update(c));
    s.on('error', rejectP);
    s.on('end', () => resolve(h.digest()));
  });
}

/** The fingerprint of the trusted key whose signature over `digest` verifies; rejects otherwise. */
function checkSignature(digest: Buffer, sigB64: string, keysJson: string | undefined): string {
  const sig = Buffer.from(sigB64, 'base64');
  if (sig.length !== 64) reject('malformed signature: an Ed25519 signature has 64 bytes, this one ' + sig.length);
  let keys: unknown = [];
  try {
    keys = JSON.parse(keysJson || '[]');
  } catch {
    reject('bad trusted key list');
  }
  if (!Array.isArray(keys) || keys.length === 0) reject('untrusted signer: a signature was given but no keys are trusted');
  for (const k of keys as { fingerprint?: unknown; key?: unknown }[]) {
    const raw = Buffer.from(String(k.key), 'base64');
    if (raw.length !== 32) continue;
    const pub = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
    if (verify(null, digest, pub, sig)) return String(k.fingerprint);
  }
  return reject('bad signature or untrusted signer: the signature does not verify with any of the ' + keys.length + ' trusted key(s)');
}

/** Resolves true once stdin has said `go`, false when it ends without it. */
function waitForGo(): Promise<boolean> {
  return new Promise((resolve) => {
    let got = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (c: string) => {
      got += c;
      if (got.includes('go\n')) {
        resolve(true);
        process.stdin.destroy();
      }
    });
    process.stdin.on('end', () => resolve(got.includes('go\n')));
    process.stdin.on('error', () => resolve(false));
  });
}

async function main(): Promise<void> {
  const file = process.env.BKG_VERIFY_FILE;
  let size: number | null = null;
  let sha: string | null = null;
  try {
    if (!file) reject('no file to verify');
    if (process.env.BKG_VERIFY_WAIT === '1') {
      if (!(await waitForGo())) return;
      const st = statSync(file);
      if (!st.isFile()) reject('not a regular file');
      size = st.size;
      const structure = checkGguf(file);
      emit({ ok: true, sha256: null, size: structure.size, gguf: structure.gguf, signed_by: null });
      return;
    }
    const st = statSync(file);
    if (!st.isFile()) reject('not a regular file');
    size = st.size;
    const structure = checkGguf(file);
    const digest = await sha256Of(file);
    sha = digest.toString('hex');
    const expected = (process.env.BKG_VERIFY_SHA256 || '').toLowerCase();
    if (expected && expected !== sha) reject('sha256 mismatch: expected ' + expected + ', got ' + sha);
    let signedBy: string | null = null;
    if (process.env.BKG_VERIFY_SIG) signedBy = checkSignature(digest, process.env.BKG_VERIFY_SIG, process.env.BKG_VERIFY_KEYS);
    emit({ ok: true, sha256: sha, size: structure.size, gguf: structure.gguf, signed_by: signedBy });
  } catch (e) {
    if (!(e instanceof Reject)) throw e;
    emit({ ok: false, reason: e.message, sha256: sha, size });
  }
}

main().catch((e: unknown) => {
  emit({ ok: false, reason: 'verifier error: ' + (e instanceof Error && e.message ? e.message : String(e)), sha256: null, size: null });
});
