/**
 * The model verifier that runs INSIDE a throwaway bkg sandbox (no network, memory- and time-capped),
 * as `node -e VERIFY_SCRIPT`. It treats the file as hostile data and prints exactly one JSON line:
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
 * Plain CommonJS in a string (no template substitutions): what runs is exactly this text.
 */
export const VERIFY_SCRIPT = String.raw`'use strict';
const fs = require('node:fs');
const os = require('node:os');
const crypto = require('node:crypto');

function sandboxFacts() {
  let interfaces = [];
  try { interfaces = Object.keys(os.networkInterfaces()).sort(); } catch (e) { interfaces = ['?']; }
  return { hostname: os.hostname(), uid: typeof process.getuid === 'function' ? process.getuid() : null, interfaces: interfaces };
}
function emit(obj) {
  obj.sandbox = sandboxFacts();
  process.stdout.write(JSON.stringify(obj) + '\n');
}
class Reject extends Error {}
function reject(reason) { throw new Reject(reason); }

// ggml tensor types: [block size (elements), bytes per block]
const GGML_TYPES = {
  0: [1, 4], 1: [1, 2], 2: [32, 18], 3: [32, 20], 6: [32, 22], 7: [32, 24], 8: [32, 34], 9: [32, 36],
  10: [256, 84], 11: [256, 110], 12: [256, 144], 13: [256, 176], 14: [256, 210], 15: [256, 292],
  16: [256, 66], 17: [256, 74], 18: [256, 98], 19: [256, 50], 20: [32, 18], 21: [256, 110], 22: [256, 82],
  23: [256, 136], 24: [1, 1], 25: [1, 2], 26: [1, 4], 27: [1, 8], 28: [1, 8], 29: [256, 56], 30: [1, 2],
  34: [256, 54], 35: [256, 66], 39: [32, 17],
};
// GGUF metadata value types: fixed widths (0 for variable: string, array)
const VALUE_WIDTH = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 8: 0, 9: 0, 10: 8, 11: 8, 12: 8 };
const MAX_COUNT = 1 << 24;
const WINDOW = 1 << 20;

class Reader {
  constructor(fd, size) { this.fd = fd; this.size = size; this.pos = 0; this.buf = Buffer.alloc(0); this.bufStart = 0; this.wide = true; }
  need(n, what) {
    if (this.pos + n > this.size) reject('truncated: the file ends inside the GGUF ' + what + ' (at byte ' + this.pos + ' of ' + this.size + ')');
    const off = this.pos - this.bufStart;
    if (off >= 0 && off + n <= this.buf.length) return off;
    const len = Math.min(Math.max(n, WINDOW), this.size - this.pos);
    const b = Buffer.alloc(len);
    let got = 0;
    while (got < len) {
      const r = fs.readSync(this.fd, b, got, len - got, this.pos + got);
      if (r === 0) reject('truncated: short read at byte ' + (this.pos + got));
      got += r;
    }
    this.buf = b; this.bufStart = this.pos;
    return 0;
  }
  u8(what) { const o = this.need(1, what); this.pos += 1; return this.buf[o]; }
  u32(what) { const o = this.need(4, what); this.pos += 4; return this.buf.readUInt32LE(o); }
  u64(what) {
    const o = this.need(8, what); this.pos += 8;
    const v = this.buf.readBigUInt64LE(o);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) reject('implausible ' + what + ': ' + v);
    return Number(v);
  }
  count(what) { return this.wide ? this.u64(what) : this.u32(what); }
  skip(n, what) {
    if (this.pos + n > this.size) reject('truncated: the file ends inside the GGUF ' + what + ' (needs ' + n + ' bytes at ' + this.pos + ', file has ' + this.size + ')');
    this.pos += n;
  }
  str(what, keep) {
    const n = this.count(what + ' length');
    if (n > this.size - this.pos) reject('truncated: a GGUF ' + what + ' of ' + n + ' bytes runs past the end of the file');
    if (keep && n <= 4096) { const o = this.need(n, what); this.pos += n; return this.buf.toString('utf8', o, o + n); }
    this.skip(n, what);
    return null;
  }
}

function skipValue(r, type, depth) {
  const w = VALUE_WIDTH[type];
  if (w === undefined) reject('bad GGUF metadata value type ' + type);
  if (w > 0) return r.skip(w, 'metadata value');
  if (type === 8) return r.str('metadata string', false);
  if (depth > 4) reject('GGUF metadata arrays nested too deeply');
  const itemType = r.u32('array type');
  const n = r.count('array length');
  if (n > r.size - r.pos) reject('implausible GGUF array length ' + n);
  const iw = VALUE_WIDTH[itemType];
  if (iw === undefined) reject('bad GGUF array item type ' + itemType);
  if (iw > 0) return r.skip(n * iw, 'metadata array');
  for (let i = 0; i < n; i++) skipValue(r, itemType, depth + 1);
}

function readValue(r, type) {
  switch (type) {
    case 4: return r.u32('metadata value');
    case 8: return r.str('metadata string', true);
    case 10: return r.u64('metadata value');
    default: skipValue(r, type, 0); return undefined;
  }
}

function checkGguf(file) {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
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
    let architecture = null;
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
    const tensors = [];
    for (let i = 0; i < tensorCount; i++) {
      const name = r.str('tensor name', true);
      const nDims = r.u32('tensor dimensions');
      if (nDims < 1 || nDims > 4) reject('tensor ' + name + ': implausible number of dimensions ' + nDims);
      let elements = 1n;
      const dims = [];
      for (let d = 0; d < nDims; d++) {
        const n = r.count('tensor shape');
        dims.push(n);
        elements *= BigInt(n);
      }
      const type = r.u32('tensor type');
      const offset = r.u64('tensor offset');
      if (offset % alignment !== 0) reject('tensor ' + name + ': offset ' + offset + ' is not aligned to ' + alignment);
      const t = GGML_TYPES[type];
      let bytes = null;
      if (t) {
        if (dims[0] % t[0] !== 0) reject('tensor ' + name + ': row of ' + dims[0] + ' elements is not a whole number of blocks');
        const b = (elements / BigInt(t[0])) * BigInt(t[1]);
        if (b > BigInt(size)) reject('truncated: tensor ' + name + ' needs ' + b + ' bytes, more than the whole file');
        bytes = Number(b);
      }
      tensors.push({ offset: offset, bytes: bytes });
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
    return { size: size, gguf: { version: version, tensor_count: tensorCount, kv_count: kvCount, architecture: architecture, alignment: alignment, data_offset: dataOffset, data_end: dataEnd, unknown_tensor_types: unknownTypes } };
  } finally {
    fs.closeSync(fd);
  }
}

function sha256Of(file) {
  return new Promise(function (resolve, rejectP) {
    const h = crypto.createHash('sha256');
    const s = fs.createReadStream(file, { highWaterMark: 1 << 20 });
    s.on('data', function (c) { h.update(c); });
    s.on('error', rejectP);
    s.on('end', function () { resolve(h.digest()); });
  });
}

function checkSignature(digest, sigB64, keysJson) {
  const sig = Buffer.from(sigB64, 'base64');
  if (sig.length !== 64) reject('malformed signature: an Ed25519 signature has 64 bytes, this one ' + sig.length);
  let keys = [];
  try { keys = JSON.parse(keysJson || '[]'); } catch (e) { reject('bad trusted key list'); }
  if (!Array.isArray(keys) || keys.length === 0) reject('untrusted signer: a signature was given but no keys are trusted');
  for (const k of keys) {
    const raw = Buffer.from(String(k.key), 'base64');
    if (raw.length !== 32) continue;
    const pub = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
    if (crypto.verify(null, digest, pub, sig)) return String(k.fingerprint);
  }
  reject('bad signature or untrusted signer: the signature does not verify with any of the ' + keys.length + ' trusted key(s)');
}

async function main() {
  const file = process.env.BKG_VERIFY_FILE;
  let size = null;
  let sha = null;
  try {
    if (!file) reject('no file to verify');
    const st = fs.statSync(file);
    if (!st.isFile()) reject('not a regular file');
    size = st.size;
    const structure = checkGguf(file);
    const digest = await sha256Of(file);
    sha = digest.toString('hex');
    const expected = (process.env.BKG_VERIFY_SHA256 || '').toLowerCase();
    if (expected && expected !== sha) reject('sha256 mismatch: expected ' + expected + ', got ' + sha);
    let signedBy = null;
    if (process.env.BKG_VERIFY_SIG) signedBy = checkSignature(digest, process.env.BKG_VERIFY_SIG, process.env.BKG_VERIFY_KEYS);
    emit({ ok: true, sha256: sha, size: structure.size, gguf: structure.gguf, signed_by: signedBy });
  } catch (e) {
    if (!(e instanceof Reject)) throw e;
    emit({ ok: false, reason: e.message, sha256: sha, size: size });
  }
}
main().catch(function (e) {
  emit({ ok: false, reason: 'verifier error: ' + (e && e.message ? e.message : String(e)), sha256: null, size: null });
});
`;
