/** The repositories moved into the store from src/llm: models, trusted keys, download jobs, model access. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type SqliteStore } from '../../src/store/index.js';
import { caught } from '../helpers/errors.js';

let dir: string;
let store: SqliteStore;
let t: number;
const clock = (): Date => new Date((t += 1000));
const iso = (ms: number) => new Date(ms).toISOString();

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bkg-llm-repos-'));
  t = Date.parse('2026-05-01T00:00:00Z');
  store = openStore(join(dir, 'bkg.db'), { now: clock });
});
afterEach(() => {
  store.close();
  store.close(); // closing twice is harmless
  rmSync(dir, { recursive: true, force: true });
});

describe('download jobs', () => {
  it('update changes only the patched columns and moves updated_at; failUnfinished fails only unfinished jobs', () => {
    const a = store.downloadJobs.create({ source: 'https://example.com/a.gguf', modelId: 'a' });
    expect(a).toMatchObject({ status: 'queued', bytes_done: 0, bytes_total: null, error: null, created_at: a.updated_at });
    store.downloadJobs.update(a.id, { bytes_done: 5, status: 'downloading', ['nope' as never]: 1 });
    expect(store.downloadJobs.get(a.id)).toMatchObject({ status: 'downloading', bytes_done: 5, bytes_total: null, model_id: 'a' });
    expect(store.downloadJobs.get(a.id)?.updated_at).not.toBe(a.updated_at);
    const before = store.downloadJobs.get(a.id);
    store.downloadJobs.update(a.id, {});
    expect(store.downloadJobs.get(a.id)).toEqual(before);
    const b = store.downloadJobs.create({ source: '/b.gguf', modelId: null });
    store.downloadJobs.update(b.id, { status: 'done', model_id: 'b' });
    expect(store.downloadJobs.failUnfinished('INTERNAL: interrupted')).toBe(1);
    expect(store.downloadJobs.get(a.id)).toMatchObject({ status: 'failed', error: 'INTERNAL: interrupted' });
    expect(store.downloadJobs.get(b.id)).toMatchObject({ status: 'done', error: null });
    expect(store.downloadJobs.get('dl_missing')).toBeNull();
  });
});

describe('models and trusted keys', () => {
  it('keeps manifests by id and digest, in least-recently-used order', () => {
    const m = (id: string, sha: string, at: number) => ({ id, name: id, sha256: sha.repeat(64), size_bytes: 10, source: '/m', signed_by: null, created_at: iso(at), last_used_at: null });
    store.models.insert(m('a', 'a', t));
    store.models.insert(m('b', 'b', t + 1));
    expect(caught(() => store.models.insert(m('a', 'c', t))).code).toBe('CONFLICT');
    expect(caught(() => store.models.insert(m('c', 'a', t))).code).toBe('CONFLICT');
    expect(store.models.bySha256('b'.repeat(64))?.id).toBe('b');
    expect(store.models.touch('a', iso(t + 5))).toBe(true);
    expect(store.models.touch('zz', iso(t + 5))).toBe(false);
    expect(store.models.listLru().map((x) => x.id)).toEqual(['b', 'a']);
    store.models.setSignedBy('b', 'fp');
    expect(store.models.get('b')?.signed_by).toBe('fp');
    expect([...store.models.shaSet()].sort()).toEqual(['a'.repeat(64), 'b'.repeat(64)]);
    expect(store.models.delete('a')).toBe(true);
    expect(store.models.delete('a')).toBe(false);
    expect(store.models.list().map((x) => x.id)).toEqual(['b']);
  });

  it('ensures a trusted key once, and refuses another key under the same fingerprint', () => {
    const k = { fingerprint: 'fp1', name: 'release', public_key: 'AAAA', created_at: iso(t) };
    expect(store.trustedKeys.ensure(k)).toEqual(k);
    expect(store.trustedKeys.ensure({ ...k, name: 'again', created_at: iso(t + 1) })).toEqual(k);
    expect(caught(() => store.trustedKeys.ensure({ ...k, public_key: 'BBBB' })).code).toBe('CONFLICT');
    expect(store.trustedKeys.list()).toEqual([k]);
    expect(store.trustedKeys.delete('fp1')).toBe(true);
    expect(store.trustedKeys.get('fp1')).toBeNull();
  });
});

describe('model access rows', () => {
  it('approves a request and records its token together; revokes a token of its own model only', () => {
    const r = { id: 'req_1', model_id: 'm', cave_namespace: 'team', requested_by: 'key_1', status: 'pending' as const, created_at: iso(t), decided_at: null, decided_by: null, token_id: null };
    store.llmAccess.insertRequest(r);
    expect(store.llmAccess.getRequest('req_1')).toEqual(r);
    store.llmAccess.approve({ requestId: 'req_1', jti: 'tok_1', modelId: 'm', namespace: 'team', scopes: ['chat', 'embed'], rpm: 6, expiresAt: iso(t + 60_000), at: iso(t + 1), decidedBy: 'host' });
    expect(store.llmAccess.getRequest('req_1')).toMatchObject({ status: 'approved', decided_by: 'host', decided_at: iso(t + 1), token_id: 'tok_1' });
    expect(store.llmAccess.listTokens()).toEqual([
      { jti: 'tok_1', model_id: 'm', cave_ns: 'team', scopes: ['chat', 'embed'], rpm: 6, expires_at: iso(t + 60_000), revoked_at: null, created_at: iso(t + 1) },
    ]);
    // a failed approval (the token id is taken) leaves the request pending
    store.llmAccess.insertRequest({ ...r, id: 'req_2' });
    expect(() => store.llmAccess.approve({ requestId: 'req_2', jti: 'tok_1', modelId: 'm', namespace: 'team', scopes: [], rpm: 1, expiresAt: iso(t), at: iso(t), decidedBy: 'host' })).toThrow();
    expect(store.llmAccess.getRequest('req_2')?.status).toBe('pending');
    store.llmAccess.deny('req_2', 'admin', iso(t + 2));
    expect(store.llmAccess.listRequests().map((x) => [x.id, x.status, x.decided_by])).toEqual([['req_1', 'approved', 'host'], ['req_2', 'denied', 'admin']]);
    expect(store.llmAccess.revokeToken('other', 'tok_1', iso(t + 3))).toBe(false);
    expect(store.llmAccess.revokedTokenIds()).toEqual([]);
    expect(store.llmAccess.revokeToken('m', 'tok_1', iso(t + 3))).toBe(true);
    expect(store.llmAccess.revokedTokenIds()).toEqual(['tok_1']);
  });
});
