/**
 * Identities: as root every sandbox claims its own id range (a lock per range, held for the
 * sandbox's life, shared by every daemon and `run --rm` on the host); a saved tree comes back into a
 * sandbox with another range with its owners shifted. As an ordinary user: the subordinate ranges.
 */
import { spawnSync } from 'node:child_process';
import { lchownSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { newSandboxId, type SandboxDefinition } from '../../src/runtime/definition.js';
import type { SandboxHandle } from '../../src/runtime/engine.js';
import { detectIdentity, POOL_START, RANGE_SIZE, subordinateRange } from '../../src/runtime/identity.js';
import { withDefaults } from '../../src/runtime/limits.js';
import { rejection } from '../helpers/errors.js';
import { makeRuntime, sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason() ?? (process.getuid?.() === 0 ? null : 'id ranges of their own need bkg to run as root');
const temps: string[] = [];
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});
const temp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'bkg-ids-'));
  temps.push(d);
  return d;
};

describe('subordinate ranges (an ordinary user)', () => {
  const files = (m: Record<string, string>) => (p: string) => m[p] ?? null;
  it('reads /etc/subuid by name or uid, and maps root to the user and 1.. to the range', () => {
    expect(subordinateRange('alice:100000:65536\nbob:200000:0\n1002:300000:10\n', 'bob', 1001)).toBeNull();
    expect(subordinateRange('alice:100000:65536\n1002:300000:10\n', 'x', 1002)).toEqual([300000, 10]);
    const id = detectIdentity({ uid: 1000, gid: 1000, user: 'alice', readText: files({ '/etc/subuid': 'alice:100000:65536\n', '/etc/subgid': 'alice:200000:65536\n' }), setuidRoot: () => true });
    expect(id.uidMaps).toEqual([{ inside: 0, outside: 1000, count: 1 }, { inside: 1, outside: 100000, count: 65535 }]);
    expect(id.gidMaps).toEqual([{ inside: 0, outside: 1000, count: 1 }, { inside: 1, outside: 200000, count: 65535 }]);
    expect(id.newIdMap).toEqual({ uid: '/usr/bin/newuidmap', gid: '/usr/bin/newgidmap' });
  });
  it('falls back to the user\'s own id, saying why, without a range or without the setuid tools', () => {
    const none = detectIdentity({ uid: 1000, gid: 1000, user: 'alice', readText: files({}), setuidRoot: () => true });
    expect(none.uidMaps).toEqual([{ inside: 0, outside: 1000, count: 1 }]);
    expect(none.subordinateMissing).toMatch(/no subordinate uid range for alice/);
    const tools = detectIdentity({ uid: 1000, gid: 1000, user: 'alice', readText: files({ '/etc/subuid': 'alice:1:5\n', '/etc/subgid': 'alice:1:5\n' }), setuidRoot: () => false });
    expect(tools.newIdMap).toBeUndefined();
    expect(tools.subordinateMissing).toMatch(/newuidmap .* uidmap/);
  });
});

describe.skipIf(skip)('id ranges of their own (bkg as root)', () => {
  const limits = withDefaults({ memoryBytes: 128 << 20, pids: 64, diskBytes: 32 << 20 });
  const define = (): SandboxDefinition => ({ id: newSandboxId(), argv: [], limits, network: 'none' });
  const mapOf = (h: SandboxHandle) => readFileSync(`/proc/${h.initPid}/uid_map`, 'utf8').trim().split(/\s+/).map(Number);

  it('gives every running sandbox its own range, above every range useradd hands out, never host root', async () => {
    const { runtime } = makeRuntime();
    const hs = await Promise.all([define(), define(), define()].map((d) => runtime.start(d)));
    try {
      const maps = hs.map(mapOf);
      for (const [inside, outside, count] of maps) {
        expect([inside, count]).toEqual([0, RANGE_SIZE]);
        expect(outside).toBeGreaterThanOrEqual(POOL_START);
        expect(((outside as number) - POOL_START) % RANGE_SIZE).toBe(0);
      }
      expect(new Set(maps.map((m) => m[1])).size).toBe(3);
    } finally {
      for (const h of hs) await runtime.stop(h);
    }
  });

  it('never hands out a range that a running sandbox holds, and frees it when the sandbox ends', async () => {
    const base = makeRuntime().host;
    const pool = { dir: temp(), start: POOL_START + 1000 * RANGE_SIZE, slots: 1, count: RANGE_SIZE };
    const { runtime } = makeRuntime({ ...base, identity: { ...base.identity, pool } });
    const a = await runtime.start(define());
    const err = await rejection(runtime.start(define()));
    expect(err).toMatchObject({ code: 'ISOLATION_UNAVAILABLE' });
    expect(err.message).toMatch(/identity\): no free id range in/);
    expect(mapOf(a)[1]).toBe(pool.start);
    await runtime.stop(a);
    const b = await runtime.start(define());
    expect(mapOf(b)[1]).toBe(pool.start);
    await runtime.stop(b);
    expect(readdirSync(pool.dir)).toEqual(['0']);
  });

  it('restores files saved under another range (an earlier start, a fork, bkg before ranges of their own) with their owners', async () => {
    const { runtime } = makeRuntime();
    const a = await runtime.start(define());
    const r = await runtime.exec(a, { argv: ['sh', '-c', 'echo hi > /workspace/a; mkdir /tmp/d; echo x > /tmp/d/f; chown 1000:1001 /tmp/d/f'] }, { stdio: ['ignore', 'ignore', 'ignore'] });
    expect(r.exitCode).toBe(0);
    const saved = join(temp(), 'files');
    await runtime.save(a, saved);
    const aBase = mapOf(a)[1] as number;
    await runtime.stop(a);
    expect(lstatSync(saved).uid).toBe(aBase);
    // the same tree as bkg wrote it when every sandbox of root shared the range 100000..
    const legacy = join(temp(), 'files');
    expect(spawnSync('cp', ['-a', saved, legacy]).status).toBe(0);
    const shift = (p: string): void => {
      const st = lstatSync(p);
      lchownSync(p, st.uid - aBase + 100_000, st.gid - aBase + 100_000);
      if (st.isDirectory()) for (const n of readdirSync(p)) shift(join(p, n));
    };
    shift(legacy);
    for (const tree of [saved, legacy]) {
      const b = await runtime.start({ ...define(), restoreFrom: tree });
      try {
        expect(mapOf(b)[1]).not.toBe(lstatSync(tree).uid);
        const out: Buffer[] = [];
        const res = await runtime.exec(b, { argv: ['sh', '-c', 'cat /workspace/a; stat -c %u:%g /tmp/d/f /tmp/d /workspace/a'] }, { stdio: ['ignore', 'pipe', 'ignore'], onStdout: (c) => out.push(c) });
        expect(res.exitCode).toBe(0);
        expect(Buffer.concat(out).toString()).toBe('hi\n1000:1001\n0:0\n0:0\n');
      } finally {
        await runtime.stop(b);
      }
    }
  });
});
