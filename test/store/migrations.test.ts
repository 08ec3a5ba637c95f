/** Schema migrations on real database files: from an empty file and from a database at version 1. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/store/audit.js';
import { migrate, openDb, type Db } from '../../src/store/db.js';
import { MIGRATIONS } from '../../src/store/migrations.js';

const DAEMON_TABLES = ['api_keys', 'executions', 'namespaces', 'policies', 'projects', 'rate_limits', 'sandboxes'];
const ALL_VERSIONS = MIGRATIONS.map((m) => m.version);

let dir: string;
let path: string;
let db: Db | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bkg-mig-'));
  path = join(dir, 'bkg.db');
});
afterEach(() => {
  db?.close();
  db = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function tables(d: Db): string[] {
  return (d.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
}

function versions(d: Db): number[] {
  return (d.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as { version: number }[]).map((r) => r.version);
}

describe('migrations', () => {
  it('are numbered 1, 2, … without gaps', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
  });

  it('build the whole schema from an empty file', () => {
    db = openDb(path);
    expect(versions(db)).toEqual(ALL_VERSIONS);
    expect(tables(db)).toEqual(expect.arrayContaining(['audit_events', 'schema_migrations', ...DAEMON_TABLES]));
    expect(db.pragma('foreign_key_check')).toEqual([]);
    const indexes = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[]).map((r) => r.name);
    expect(indexes).toEqual(expect.arrayContaining(['executions_sandbox', 'sandboxes_status', 'api_keys_sandbox']));
  });

  it('upgrade a version-1 database in place, keeping its audit log', () => {
    const v1 = new Database(path);
    expect(migrate(v1, MIGRATIONS.filter((m) => m.version === 1))).toEqual([1]);
    new AuditLog(v1).append({ actor: 'admin', action: 'daemon.start', outcome: 'ok' });
    expect(tables(v1)).not.toContain('sandboxes');
    v1.close();

    db = openDb(path);
    expect(versions(db)).toEqual(ALL_VERSIONS);
    expect(tables(db)).toEqual(expect.arrayContaining(DAEMON_TABLES));
    expect(new AuditLog(db).verify()).toEqual({ ok: true, count: 1 });
    expect(migrate(db)).toEqual([]);
  });

  it('move version 5\'s per-role rate limits to rate_limits and add namespace policies', () => {
    const v5 = new Database(path);
    migrate(v5, MIGRATIONS.filter((m) => m.version <= 5));
    v5.prepare("INSERT INTO policies (role, rate_per_sec, burst) VALUES ('namespace', 7, 9)").run();
    v5.close();
    db = openDb(path);
    expect(db.prepare('SELECT role, rate_per_sec, burst FROM rate_limits').all()).toEqual([{ role: 'namespace', rate_per_sec: 7, burst: 9 }]);
    expect(db.prepare('SELECT count(*) AS n FROM policies').get()).toEqual({ n: 0 });
  });

  it('enforce the invariants the code relies on in SQLite itself', () => {
    db = openDb(path);
    const d = db;
    const now = new Date().toISOString();
    d.prepare("INSERT INTO namespaces (id, name, created_at) VALUES ('ns1', 'team', ?)").run(now);
    const sandbox = (status: string) =>
      d.prepare(`INSERT INTO sandboxes (id, name, namespace_id, runtime, limits_json, network, env_json, status, created_at)
                 VALUES ('s1', 'a', 'ns1', 'python', '{}', 'none', '{}', ?, ?)`).run(status, now);
    expect(() => sandbox('exploded')).toThrow(/CHECK constraint/);
    sandbox('created');
    const key = (role: string, ns: string | null, sb: string | null, hash: string) =>
      d.prepare(`INSERT INTO api_keys (id, name, role, namespace_id, sandbox_id, lookup_hash, ciphertext, iv, tag, prefix, suffix, created_at)
                 VALUES (?, 'k', ?, ?, ?, ?, x'00', x'00', x'00', 'bkg_abcd', 'wxyz', ?)`).run(hash, role, ns, sb, hash, now);
    expect(() => key('admin', 'ns1', null, 'h1')).toThrow(/CHECK constraint/);
    expect(() => key('namespace', null, null, 'h2')).toThrow(/CHECK constraint/);
    expect(() => key('readonly', null, 's1', 'h3')).toThrow(/CHECK constraint/);
    expect(() => key('superuser', null, null, 'h4')).toThrow(/CHECK constraint/);
    key('namespace', 'ns1', 's1', 'h5');
    expect(() => key('namespace', 'ns1', null, 'h5')).toThrow(/UNIQUE constraint/);
    expect(() => d.prepare("INSERT INTO rate_limits (role, rate_per_sec, burst) VALUES ('admin', 0, 1)").run()).toThrow(/CHECK constraint/);
    const policy = (ns: string, maxSandboxes: number) =>
      d.prepare(`INSERT INTO policies (namespace_id, networks_json, workspace_roots_json, allow_nested_namespaces, allow_custom_seccomp, max_sandboxes, updated_at, updated_by)
                 VALUES (?, '["none"]', '[]', 0, 0, ?, ?, 'admin')`).run(ns, maxSandboxes, now);
    expect(() => policy('ns_missing', 1)).toThrow(/FOREIGN KEY/);
    expect(() => policy('ns1', -1)).toThrow(/CHECK constraint/);
    policy('ns1', 5);
    // A sandbox's own key goes with it rather than outliving it with namespace-wide reach.
    d.prepare("DELETE FROM sandboxes WHERE id = 's1'").run();
    expect(d.prepare('SELECT count(*) AS n FROM api_keys').get()).toEqual({ n: 0 });
  });
});
