/**
 * One store: every statement is prepared once per repository (when it is built), never per call,
 * and no SQL lives outside src/store.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_NAMESPACE_POLICY } from '../../src/api/policies.js';
import { ApiKeyStore } from '../../src/daemon/auth/api-keys.js';
import { loadSigningKey, ModelAccess } from '../../src/llm/access.js';
import { openDb, type Db } from '../../src/store/db.js';
import { createStore, type SqliteStore } from '../../src/store/index.js';
import { caught } from '../helpers/errors.js';

let dir: string;
let db: Db;
let prepared: string[];
let store: SqliteStore;
let t: number;
const clock = (): Date => new Date((t += 1000));

/** The connection, with every prepare() recorded. */
function counting(target: Db): Db {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      if (prop === 'prepare') {
        return (sql: string) => {
          prepared.push(sql);
          return obj.prepare(sql);
        };
      }
      return Reflect.get(obj, prop, receiver) as unknown;
    },
  });
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bkg-statements-'));
  prepared = [];
  t = Date.parse('2026-05-01T00:00:00Z');
  db = openDb(join(dir, 'bkg.db'));
  store = createStore(counting(db), { now: clock });
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Call every method of every repository (through ApiKeyStore and ModelAccess where they own the logic). */
async function round(i: number, keys: ApiKeyStore, access: ModelAccess): Promise<void> {
  const s = store;
  const prj = s.projects.ensure(`p${i}`);
  s.projects.get(prj.id);
  s.projects.getByName(prj.name);
  s.projects.list();

  const ns = s.namespaces.ensure(`n${i}`, prj.id);
  expect(caught(() => s.namespaces.ensure(`orphan${i}`, 'prj_missing')).code).toBe('NOT_FOUND');
  s.namespaces.get(ns.id);
  s.namespaces.getByName(ns.name);
  s.namespaces.list();
  s.namespaces.list(prj.id);

  const mk = (id: string) => ({ id, name: id, namespaceId: ns.id, runtime: 'shell', limits: { memoryBytes: 1 << 20, pids: 4 }, network: 'none' as const });
  const sb = s.sandboxes.insert(mk(`a${i}`));
  s.sandboxes.insert(mk(`b${i}`), (u) => expect(u.sandboxes).toBe(1));
  expect(caught(() => s.sandboxes.insert({ ...mk(`c${i}`), name: `a${i}` })).code).toBe('CONFLICT');
  s.sandboxes.get(sb.id);
  s.sandboxes.getByIdOrName(null, sb.id);
  s.sandboxes.getByIdOrName(ns.id, sb.name);
  s.sandboxes.list(null);
  s.sandboxes.list(ns.id, { status: 'running' });
  s.sandboxes.usage(ns.id);
  s.sandboxes.listExpired(new Date(t));
  s.sandboxes.updateStatus(sb.id, 'running');
  expect(caught(() => s.sandboxes.updateStatus('sbx_missing', 'running')).code).toBe('NOT_FOUND');
  s.sandboxes.setRuntimeInfo(sb.id, { pid: 1, helperPid: 2, startedAt: new Date(t), expiresAt: null });
  s.sandboxes.touch(sb.id);
  s.sandboxes.touch(sb.id, new Date(t), null);

  s.executions.insert({ sandboxId: sb.id, cmd: ['true'], startedAt: new Date(t), actor: 'key_1' });
  s.executions.listForSandbox(sb.id, { limit: 1 });

  s.rateLimits.set({ role: 'namespace', ratePerSec: 1, burst: 2 });
  s.rateLimits.list();
  s.rateLimits.delete('namespace');

  s.policies.set(ns.id, DEFAULT_NAMESPACE_POLICY, 'host');
  s.policies.get(ns.id);
  s.policies.list();
  s.policies.delete(ns.id);

  s.audit.append({ actor: 'host', action: 'test', outcome: 'ok', details: { i } });
  s.audit.list({ limit: 5 });
  expect(s.audit.verify().ok).toBe(true);

  const key = keys.create({ name: `k${i}`, role: 'namespace', namespaceId: ns.id, sandboxId: sb.id });
  expect(keys.authenticate(key.key)?.id).toBe(key.id);
  keys.get(key.id);
  keys.list();
  keys.list({ namespaceId: ns.id });
  const rotated = keys.rotate(key.id);
  expect(keys.reveal(key.id)).toBe(rotated.key);
  keys.revoke(key.id);

  const sha = randomBytes(32).toString('hex');
  s.models.insert({ id: `m${i}`, name: `m${i}`, sha256: sha, size_bytes: 1, source: '/x', signed_by: null, created_at: new Date(t).toISOString(), last_used_at: null });
  expect(caught(() => s.models.insert({ ...s.models.get(`m${i}`)!, sha256: '0'.repeat(64) })).code).toBe('CONFLICT');
  s.models.get(`m${i}`);
  s.models.bySha256(sha);
  s.models.list();
  s.models.listLru();
  s.models.setSignedBy(`m${i}`, 'fp');
  s.models.touch(`m${i}`, new Date(t).toISOString());
  s.models.shaSet();
  s.models.delete(`m${i}`);

  const tk = s.trustedKeys.ensure({ fingerprint: `fp${i}`, name: 'k', public_key: 'pk', created_at: new Date(t).toISOString() });
  s.trustedKeys.get(tk.fingerprint);
  s.trustedKeys.list();
  s.trustedKeys.delete(tk.fingerprint);

  const job = s.downloadJobs.create({ source: '/x', modelId: null });
  s.downloadJobs.update(job.id, { status: 'downloading' });
  s.downloadJobs.update(job.id, { bytes_done: 1, bytes_total: 2 });
  s.downloadJobs.update(job.id, { bytes_total: 3, bytes_done: 2 }); // same columns, other order: same statement
  s.downloadJobs.get(job.id);
  s.downloadJobs.failUnfinished('gone');

  const req = access.request({ modelId: `m${i}`, namespace: ns.name, requestedBy: 'key_1' });
  access.requests();
  const { claims } = await access.approve(req.id, 'host', { scopes: ['chat'], ttlSeconds: 60, rpm: 10 });
  access.deny(access.request({ modelId: `m${i}`, namespace: ns.name, requestedBy: 'key_1' }).id, 'host');
  access.tokens();
  access.revoke(`m${i}`, claims.jti);

  s.transaction(() => s.sandboxes.delete(`b${i}`));
  s.sandboxes.delete(sb.id);
}

describe('prepared statements', () => {
  it('are prepared when the store is built; calling every repository method prepares nothing more', async () => {
    const built = prepared.length;
    expect(built).toBeGreaterThan(50);
    expect(new Set(prepared).size).toBe(built); // no statement prepared twice
    const keys = new ApiKeyStore(store, randomBytes(32), clock);
    const access = new ModelAccess(store.llmAccess, await loadSigningKey(join(dir, 'llm-signing.key')), clock);
    expect(prepared.length).toBe(built);

    await round(1, keys, access);
    // only DownloadJobRepo.update prepares, once per set of columns it changes (here: two sets)
    expect(prepared.slice(built)).toEqual([
      'UPDATE download_jobs SET status = @status, updated_at = @updated_at WHERE id = @id',
      'UPDATE download_jobs SET bytes_done = @bytes_done, bytes_total = @bytes_total, updated_at = @updated_at WHERE id = @id',
    ]);
    const afterFirst = prepared.length;
    await round(2, keys, access);
    await round(3, keys, access);
    expect(prepared.length).toBe(afterFirst);
  });

  it('finds one sandbox by an index, never by reading every row (a scan is for the lists)', () => {
    const reads = prepared.filter((sql) => /\b(FROM|UPDATE) sandboxes\b/.test(sql) && /\bWHERE\b/.test(sql) && !sql.startsWith('INSERT'));
    expect(reads.length).toBeGreaterThan(5);
    const scans = reads.filter((sql) => {
      const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...Array.from(sql.matchAll(/\?/g), () => 'x')) as { detail: string }[];
      return plan.some((p) => /^SCAN sandboxes\b/.test(p.detail));
    });
    // the list of a namespace (or of all) reads its rows by design; nothing else may
    expect(scans).toEqual([expect.stringMatching(/ORDER BY created_at, id$/)]);
    expect(scans[0]).not.toMatch(/\bname = \?/);
  });

  it('a Store transaction spans repositories: all of it commits, or none of it', () => {
    const ns = store.namespaces.ensure('tx');
    expect(() => store.transaction(() => {
      store.projects.ensure('tx-project');
      store.sandboxes.insert({ id: 'sbx_tx', name: 'tx', namespaceId: ns.id, runtime: 'shell', limits: {}, network: 'none' });
      store.audit.append({ actor: 'host', action: 'tx', outcome: 'ok' });
      throw new Error('abort');
    })).toThrow('abort');
    expect(store.projects.getByName('tx-project')).toBeNull();
    expect(store.sandboxes.get('sbx_tx')).toBeNull();
    expect(store.audit.list()).toEqual([]);
    expect(store.transaction(() => store.audit.append({ actor: 'host', action: 'tx', outcome: 'ok' }).seq)).toBe(1);
    expect(store.audit.verify()).toEqual({ ok: true, count: 1 });
  });
});

function sourceFiles(root: string): string[] {
  return readdirSync(root).flatMap((e) => {
    const p = join(root, e);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('one store', () => {
  it('no code outside src/store prepares statements, runs SQL on a connection or imports better-sqlite3', () => {
    const src = join(import.meta.dirname, '../../src');
    const offenders: string[] = [];
    for (const file of sourceFiles(src)) {
      const rel = relative(src, file).split(sep).join('/');
      if (rel.startsWith('store/')) continue;
      const text = readFileSync(file, 'utf8');
      if (text.includes('.prepare(')) offenders.push(`${rel}: .prepare(`);
      if (/\bdb\.(exec|transaction|pragma)\(/.test(text)) offenders.push(`${rel}: db.exec/transaction/pragma`);
      if (/from ['"]better-sqlite3['"]/.test(text)) offenders.push(`${rel}: imports better-sqlite3`);
    }
    expect(offenders).toEqual([]);
  });
});
