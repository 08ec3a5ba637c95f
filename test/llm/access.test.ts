/** Model-access keys: signed JWTs, checked per use, revoked at once and for good. */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { accessRequestView, loadSigningKey, ModelAccess } from '../../src/llm/access.js';
import { openStore, type SqliteStore } from '../../src/store/index.js';

let dir: string;
let store: SqliteStore;
let now: number;
const clock = (): Date => new Date(now);

async function make(): Promise<ModelAccess> {
  return new ModelAccess(store.llmAccess, await loadSigningKey(join(dir, 'llm-signing.key')), clock);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bkg-access-'));
  store = openStore(join(dir, 'bkg.db'));
  now = Date.parse('2026-06-01T00:00:00Z');
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('model access', () => {
  it('issues a signed key on approval that authorizes exactly its model, scope and namespace', async () => {
    const access = await make();
    expect(statSync(join(dir, 'llm-signing.key')).mode & 0o777).toBe(0o600);
    const req = access.request({ modelId: 'stories', namespace: 'team-a', requestedBy: 'key_1' });
    expect(req.status).toBe('pending');
    const { token, claims } = await access.approve(req.id, 'host', { scopes: ['chat'], ttlSeconds: 3600, rpm: 60 });
    expect(token.split('.')).toHaveLength(3);
    expect(JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString())).toMatchObject({ alg: 'EdDSA' });
    expect(claims).toMatchObject({ model_id: 'stories', namespace: 'team-a', scopes: ['chat'] });
    // on the wire the claim keeps the seed's name, cave_ns; inside it is the namespace
    const payload = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as Record<string, unknown>;
    expect(payload).toMatchObject({ model_id: 'stories', cave_ns: 'team-a', scopes: ['chat'] });
    expect(payload).not.toHaveProperty('namespace');
    expect(await access.authorize(token, { namespace: 'team-a', modelId: 'stories', scope: 'chat' })).toMatchObject({ jti: claims.jti, namespace: 'team-a' });
    expect(access.requests({ namespace: 'team-a' }).map((r) => r.id)).toEqual([req.id]);
    expect(accessRequestView(access.getRequest(req.id))).toMatchObject({ id: req.id, cave_namespace: 'team-a', status: 'approved' });
    await expect(access.authorize(token, { namespace: 'team-b', modelId: 'stories', scope: 'chat' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(access.authorize(token, { namespace: undefined, modelId: 'stories', scope: 'chat' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(access.authorize(token, { namespace: 'team-a', modelId: 'other', scope: 'chat' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(access.authorize(token, { namespace: 'team-a', modelId: 'stories', scope: 'embed' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(access.approve(req.id, 'host', { scopes: ['chat'], ttlSeconds: 60, rpm: 1 })).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('refuses forged, tampered and expired keys with 401', async () => {
    const access = await make();
    const req = access.request({ modelId: 'm', namespace: 'ns', requestedBy: 'x' });
    const { token } = await access.approve(req.id, 'host', { scopes: ['chat'], ttlSeconds: 60, rpm: 60 });
    const use = { namespace: 'ns', modelId: 'm', scope: 'chat' as const };
    const [h, p, s] = token.split('.') as [string, string, string];
    const forgedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), scopes: ['chat', 'embed'] })).toString('base64url');
    await expect(access.authorize(`${h}.${forgedPayload}.${s}`, use)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(access.authorize('not.a.jwt', use)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(access.authorize(null, use)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    // a key that verified is remembered by its exact text: its signature altered is still refused,
    // and once it expires it is refused as before
    await access.authorize(token, use);
    const otherSig = `${s.slice(0, -2)}${s.endsWith('AA') ? 'BA' : 'AA'}`;
    await expect(access.authorize(`${h}.${p}.${otherSig}`, use)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await access.authorize(token, use);
    now += 61_000;
    await expect(access.authorize(token, use)).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: expect.stringContaining('"exp"') });
  });

  it('revokes at once and still after a restart', async () => {
    const access = await make();
    const req = access.request({ modelId: 'm', namespace: 'ns', requestedBy: 'x' });
    const { token, claims } = await access.approve(req.id, 'host', { scopes: ['chat'], ttlSeconds: 600, rpm: 60 });
    const use = { namespace: 'ns', modelId: 'm', scope: 'chat' as const };
    await access.authorize(token, use);
    access.revoke('m', claims.jti);
    await expect(access.authorize(token, use)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const again = await make(); // a new daemon process: same key file, same database
    await expect(again.authorize(token, use)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(() => again.revoke('other', claims.jti)).toThrowError(/no access key/);
  });

  it('applies the key\'s rate with Retry-After', async () => {
    const access = await make();
    const req = access.request({ modelId: 'm', namespace: 'ns', requestedBy: 'x' });
    const { token } = await access.approve(req.id, 'host', { scopes: ['chat'], ttlSeconds: 600, rpm: 2 });
    const use = { namespace: 'ns', modelId: 'm', scope: 'chat' as const };
    await access.authorize(token, use);
    await access.authorize(token, use);
    await expect(access.authorize(token, use)).rejects.toMatchObject({ code: 'RATE_LIMITED', details: { retry_after_s: 30 } });
    now += 30_000;
    await access.authorize(token, use);
  });

  it('denies requests', async () => {
    const access = await make();
    const req = access.request({ modelId: 'm', namespace: 'ns', requestedBy: 'x' });
    expect(access.deny(req.id, 'host').status).toBe('denied');
    await expect(access.approve(req.id, 'host', { scopes: ['chat'], ttlSeconds: 60, rpm: 1 })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(access.requests({ status: 'denied' })).toHaveLength(1);
  });
});
