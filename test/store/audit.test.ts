/** The SQLite store and the hash-chained audit log, on real database files. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/store/audit.js';
import { migrate, openDb, type Db } from '../../src/store/db.js';
import { MIGRATIONS } from '../../src/store/migrations.js';

let dir: string;
let path: string;
let db: Db;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bkg-db-'));
  path = join(dir, 'bkg.db');
  db = openDb(path);
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('store', () => {
  it('opens in WAL mode and records each migration once', () => {
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(migrate(db)).toEqual([]);
    const versions = db.prepare('SELECT version FROM schema_migrations ORDER BY version').all();
    expect(versions).toEqual(MIGRATIONS.map((m) => ({ version: m.version })));
  });

  it('refuses a database from a newer bkg instead of guessing', () => {
    db.prepare("INSERT INTO schema_migrations VALUES (999, 'future', 'x')").run();
    expect(() => migrate(db)).toThrowError(/newer than this bkg knows/);
  });
});

describe('audit log', () => {
  function fill(log: AuditLog): void {
    log.append({ actor: 'admin', action: 'sandbox.create', target: 'a', outcome: 'ok', namespace: 'default', details: { runtime: 'python' } });
    log.append({ actor: 'key:ns1', action: 'sandbox.exec', target: 'a', outcome: 'denied', namespace: 'ns1' });
    log.append({ actor: 'admin', action: 'sandbox.delete', target: 'a', outcome: 'ok' });
  }

  it('appends a verifiable chain and survives reopening', () => {
    fill(new AuditLog(db));
    db.close();
    db = openDb(path);
    const log = new AuditLog(db);
    expect(log.verify()).toEqual({ ok: true, count: 3 });
    const events = log.list();
    expect(events.map((e) => e.action)).toEqual(['sandbox.create', 'sandbox.exec', 'sandbox.delete']);
    expect(events[1]?.prevHash).toBe(events[0]?.hash);
    expect(events[0]?.details).toEqual({ runtime: 'python' });
  });

  it.each([
    ['an edited row', "UPDATE audit_events SET outcome = 'ok' WHERE seq = 2", 2, /modified/],
    ['a deleted row', 'DELETE FROM audit_events WHERE seq = 2', 2, /missing/],
    ['a row re-linked to another predecessor', "UPDATE audit_events SET prev_hash = '00' WHERE seq = 3", 3, /does not follow/],
  ])('detects %s made directly in SQLite', (_what, sql, seq, reason) => {
    fill(new AuditLog(db));
    const raw = new Database(path);
    raw.exec(sql);
    raw.close();
    const result = new AuditLog(db).verify();
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.seq).toBe(seq);
      expect(result.reason).toMatch(reason);
    }
  });

  it('filters by time', () => {
    let t = Date.parse('2026-01-01T00:00:00Z');
    const log = new AuditLog(db, () => new Date((t += 60_000)));
    fill(log);
    expect(log.list({ since: new Date('2026-01-01T00:02:30Z') }).map((e) => e.seq)).toEqual([3]);
  });
});
