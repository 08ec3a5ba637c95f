/**
 * The helper's persistence pieces, through the real helper: --save of a running sandbox's scratch
 * layer, --restore into a new sandbox, --scratch-home, change listings without false positives,
 * "signal N" on an exec's control descriptor and the disk_full field of a run's exit.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { planCgroups } from '../../src/runtime/cgroups.js';
import { newSandboxId, type SandboxDefinition } from '../../src/runtime/definition.js';
import { SandboxEngine } from '../../src/runtime/engine.js';
import { processStartTime, type SandboxHandle } from '../../src/runtime/handle.js';
import { parseStatusLine, spawnHelper, type ExitedEvent, type HelperEvent } from '../../src/runtime/helper-process.js';
import { withDefaults } from '../../src/runtime/limits.js';
import { buildExecSpec, buildHelperSpec, encodeSpec } from '../../src/runtime/spec.js';
import { makeRuntime, sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();
const { host } = makeRuntime();
const sandboxes = new SandboxEngine({ host, log: createLogger({ level: 'silent' }) });
const started: SandboxHandle[] = [];
const temps: string[] = [];
/** The host uid of a sandbox's root: its own range's first id as root, else ours. */
const ownRoot = host.identity.uidMaps[0]?.outside;

afterAll(async () => {
  for (const h of started) await sandboxes.stop(h);
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

function temp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(d, 0o755);
  temps.push(d);
  return d;
}

function define(extra: Partial<SandboxDefinition> = {}): SandboxDefinition {
  return { id: newSandboxId(), argv: [], limits: withDefaults({ memoryBytes: 128 << 20, pids: 64, diskBytes: 32 << 20 }), network: 'none', ...extra };
}

/** Tokens spliced in by the tests (right after --scratch SIZE, as the TypeScript side will). */
const withRestore = (dir: string) => (t: string[]): string[] => {
  const i = t.indexOf('--scratch');
  return [...t.slice(0, i + 2), '--restore', dir, ...t.slice(i + 2)];
};
/** HOME on the scratch layer, unless buildHelperSpec already asks for it. */
const withHome = (t: string[]): string[] => {
  if (t.includes('--scratch-home')) return t;
  const i = t.indexOf('--persist');
  return [...t.slice(0, i), '--scratch-home', 'home', '/root', ...t.slice(i)];
};

/** SandboxEngine.start with an edited spec: the same spawn, the same handle, adopted by the engine. */
async function startWith(def: SandboxDefinition, ...edits: ((t: string[]) => string[])[]): Promise<SandboxHandle> {
  const tokens = edits.reduce((t, edit) => edit(t), buildHelperSpec({ ...def, persist: true }, host, planCgroups(host.cgroups, def.id, def.limits)));
  const child = spawn(host.helperPath, ['--args', '3', '--json-status-fd', '4'], { detached: true, stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'], env: {}, argv0: 'bkg-helper' });
  (child.stdio[3] as Writable).end(encodeSpec(tokens));
  const status = child.stdio[4] as Readable;
  const events: HelperEvent[] = [];
  await new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: status, crlfDelay: Infinity });
    lines.on('line', (line) => {
      const ev = parseStatusLine(line);
      events.push(ev);
      if (ev.type === 'ready') resolve();
      if (ev.type === 'error') reject(new Error(`${ev.stage}: ${ev.message}`));
    });
    lines.on('close', () => reject(new Error('the helper exited while starting')));
  });
  status.destroy();
  child.unref();
  const pid = events.find((e): e is { type: 'started'; pid: number } => e.type === 'started')?.pid ?? -1;
  const ready = events.find((e) => e.type === 'ready');
  const helperPid = child.pid ?? -1;
  const h: SandboxHandle = { id: def.id, initPid: pid, helperPid, helperStartTime: processStartTime(helperPid) ?? '', scratchFd: ready?.type === 'ready' ? (ready.scratch_fd ?? null) : null };
  started.push(h);
  sandboxes.adopt(def, h);
  return h;
}

async function exec(h: SandboxHandle, script: string) {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const r = await sandboxes.exec(h, { argv: ['/bin/sh', '-c', script] }, { stdio: ['ignore', 'pipe', 'pipe'], onStdout: (c) => out.push(c), onStderr: (c) => err.push(c) });
  return { ...r, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

function save(h: SandboxHandle, dest: string): { status: number | null; lines: HelperEvent[] } {
  const r = spawnSync(host.helperPath, ['--json-status-fd', '2', '--save', `/proc/${h.helperPid}/fd/${h.scratchFd}`, dest], { encoding: 'utf8' });
  return { status: r.status, lines: r.stderr.split('\n').filter(Boolean).map(parseStatusLine) };
}

function xattr(path: string, name: string): string {
  const r = spawnSync('python3', ['-c', 'import os, sys; sys.stdout.write(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False).decode())', path, name], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`getxattr ${name} on ${path}: ${r.stderr}`);
  return r.stdout;
}

const mode = (p: string): number => lstatSync(p).mode & 0o7777;

describe.skipIf(skip)('--save and --restore of a persistent sandbox', () => {
  const ws = temp('bkg-save-ws-');
  const saved = join(temp('bkg-save-'), 'state');
  const def = define({ workspace: ws });
  let first: SandboxHandle;

  it('saves the scratch layer: whiteouts, opaque dirs, symlinks, fifos, modes, owners, times, /tmp', async () => {
    writeFileSync(join(ws, 'keep.txt'), 'keep\n');
    writeFileSync(join(ws, 'del.txt'), 'gone\n');
    writeFileSync(join(ws, 'mod.txt'), 'before\n');
    mkdirSync(join(ws, 'dir'));
    writeFileSync(join(ws, 'dir', 'old.txt'), 'old\n');
    first = await sandboxes.start(def);
    started.push(first);
    const r = await exec(first, [
      'cd /workspace && rm del.txt && rm -rf dir && mkdir dir && echo new > dir/new.txt',
      'ln -s keep.txt link && mkfifo fifo && echo s > suid && chmod 4755 suid && echo after > mod.txt',
      'echo tmpdata > /tmp/x',
    ].join(' && '));
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);

    const out = save(first, saved);
    expect(out.lines).toEqual([]);
    expect(out.status).toBe(0);
    const src = `/proc/${first.helperPid}/fd/${first.scratchFd}`;
    expect(readdirSync(saved)).toEqual(expect.arrayContaining(['shm', 'tmp', 'upper', 'work']));
    expect(readdirSync(saved).sort()).toEqual(readdirSync(src).sort());
    expect(readdirSync(join(saved, 'work'))).toEqual([]); // the overlay workdir is left out
    const up = join(saved, 'upper');
    const whiteout = lstatSync(join(up, 'del.txt'));
    expect(whiteout.isCharacterDevice() && whiteout.rdev === 0).toBe(true);
    expect(xattr(join(up, 'dir'), 'user.overlay.opaque')).toBe('y');
    expect(readdirSync(join(up, 'dir'))).toEqual(['new.txt']);
    expect(readlinkSync(join(up, 'link'))).toBe('keep.txt');
    expect(lstatSync(join(up, 'fifo')).isFIFO()).toBe(true);
    expect(mode(join(up, 'suid'))).toBe(0o4755);
    expect(readdirSync(up)).not.toContain('keep.txt'); // never copied up
    expect(readFileSync(join(up, 'mod.txt'), 'utf8')).toBe('after\n');
    expect(readFileSync(join(saved, 'tmp', 'x'), 'utf8')).toBe('tmpdata\n');
    expect(mode(join(saved, 'tmp'))).toBe(0o1777);
    // owned by the saving sandbox's root: a range of its own as root (never host root), else ours
    const savedRoot = lstatSync(saved).uid;
    if (host.identity.pool) expect(savedRoot).toBeGreaterThanOrEqual(host.identity.pool.start);
    else expect(savedRoot).toBe(ownRoot);
    for (const p of ['.', 'work', 'upper/suid', 'upper/link', 'upper/fifo', 'upper/del.txt', 'tmp/x']) {
      expect(lstatSync(join(saved, p)).uid).toBe(savedRoot);
      expect(lstatSync(join(saved, p)).gid).toBe(savedRoot);
    }
    for (const p of ['upper/mod.txt', 'upper/link', 'upper/dir', 'tmp/x']) {
      expect(lstatSync(join(saved, p)).mtimeMs).toBe(lstatSync(join(src, p)).mtimeMs);
      expect(mode(join(saved, p))).toBe(mode(join(src, p)));
    }

    const again = save(first, saved); // DEST must not exist
    expect(again.status).toBe(125);
    expect(again.lines).toMatchObject([{ type: 'error', stage: 'save' }]);
  });

  it('restores it into a new sandbox: the workspace view, /tmp and the changes come back', async () => {
    const def2 = define({ workspace: ws });
    const h = await startWith(def2, withRestore(saved));
    const r = await exec(h, [
      'cd /workspace; cat keep.txt mod.txt /tmp/x; ls dir; readlink link; test -p fifo && echo fifo',
      "stat -c '%a %u' suid; test -e del.txt || echo deleted; echo more > more.txt && cat more.txt",
    ].join('; '));
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('keep\nafter\ntmpdata\nnew.txt\nkeep.txt\nfifo\n4755 0\ndeleted\nmore\n');
    const changes = await sandboxes.changes(h);
    expect(changes).toEqual([...(await sandboxes.changes(first)), { path: 'more.txt', kind: 'added', type: 'file' }].sort((a, b) => (a.path < b.path ? -1 : 1)));
    expect(changes).toContainEqual({ path: 'dir/old.txt', kind: 'deleted', type: 'file' });
    expect(readdirSync(join(saved, 'upper'))).not.toContain('more.txt'); // a copy, not the saved tree itself
  });

  it('--save-linked copies a saved tree with its regular files hard-linked and everything else as --save does; a restore from it copies', async () => {
    const linked = join(temp('bkg-save-linked-'), 'snap');
    const r = spawnSync(host.helperPath, ['--json-status-fd', '2', '--save-linked', saved, linked], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const [a, b] = [join(saved, 'upper'), join(linked, 'upper')];
    expect(lstatSync(join(b, 'mod.txt')).ino).toBe(lstatSync(join(a, 'mod.txt')).ino);
    expect(lstatSync(join(b, 'suid')).ino).toBe(lstatSync(join(a, 'suid')).ino);
    expect(lstatSync(join(linked, 'tmp', 'x')).ino).toBe(lstatSync(join(saved, 'tmp', 'x')).ino);
    expect(lstatSync(join(b, 'dir')).ino).not.toBe(lstatSync(join(a, 'dir')).ino); // directories are made anew
    expect(xattr(join(b, 'dir'), 'user.overlay.opaque')).toBe('y');
    const whiteout = lstatSync(join(b, 'del.txt'));
    expect(whiteout.isCharacterDevice() && whiteout.rdev === 0).toBe(true);
    expect(readlinkSync(join(b, 'link'))).toBe('keep.txt');
    expect(lstatSync(join(b, 'fifo')).isFIFO()).toBe(true);
    expect(mode(join(linked, 'tmp'))).toBe(0o1777);
    expect(lstatSync(join(b, 'dir')).mtimeMs).toBe(lstatSync(join(a, 'dir')).mtimeMs);
    // a sandbox restored from the linked tree writes its own copy: the shared inode never changes
    const h = await startWith(define({ workspace: ws }), withRestore(linked));
    const w = await exec(h, 'cd /workspace && cat mod.txt && echo changed > mod.txt && chmod 600 suid');
    expect(w.stdout).toBe('after\n');
    expect(readFileSync(join(a, 'mod.txt'), 'utf8')).toBe('after\n');
    expect(mode(join(a, 'suid'))).toBe(0o4755);
  });

  it('keeps a --scratch-home directory private (0700) and restores its mode and contents', async () => {
    const d1 = define();
    const h1 = await startWith(d1, withHome);
    const a = await exec(h1, 'stat -c %a /root; echo hi > /root/.note; chmod 750 /root');
    expect(a.stdout).toBe('700\n');
    const dest = join(temp('bkg-home-'), 'state');
    expect(save(h1, dest).status).toBe(0);
    expect(mode(join(dest, 'home'))).toBe(0o750);
    const d2 = define();
    const h2 = await startWith(d2, withRestore(dest), withHome);
    const b = await exec(h2, 'stat -c %a /root; cat /root/.note; stat -c %a /tmp');
    expect(b.stdout).toBe('750\nhi\n1777\n');
  });

  it('refuses --restore without --scratch, after a scratch mount, or of a missing directory', async () => {
    const maps = ['--uid-map', '0', '100000', '1', '--gid-map', '0', '100000', '1'];
    const spec = (args: string[]) => spawnSync(host.helperPath, ['--json-status-fd', '2', ...maps, ...args, '--', 'true'], { encoding: 'utf8' });
    const noScratch = spec(['--restore', saved]);
    expect(noScratch.status).toBe(125);
    expect(noScratch.stderr).toMatch(/need --scratch SIZE/);
    const late = spec(['--scratch', '1048576', '--scratch-dir', 'tmp', '/tmp', '--restore', saved]);
    expect(late.status).toBe(125);
    expect(late.stderr).toMatch(/--restore must come before/);
    const d = define();
    await expect(startWith(d, withRestore(join(saved, 'missing')))).rejects.toThrow(/restore: open .*missing/);
  });
});

describe.skipIf(skip)('changes without false positives', () => {
  it('drops files and symlinks whose content, mode and target match the host again', async () => {
    const ws = temp('bkg-chg-');
    for (const [name, body] of [['same.txt', 'AAAA'], ['diff.txt', 'BBBB'], ['mode.txt', 'x']] as const) writeFileSync(join(ws, name), body);
    const def = define({ workspace: ws });
    const h = await sandboxes.start(def);
    started.push(h);
    await exec(h, 'cd /workspace && printf ZZZZ > same.txt && printf YYYY > diff.txt && chmod 600 mode.txt && ln -s t sl && printf n > new.txt');
    expect(await sandboxes.changes(h)).toEqual([
      { path: 'diff.txt', kind: 'modified', type: 'file' },
      { path: 'mode.txt', kind: 'modified', type: 'file' },
      { path: 'new.txt', kind: 'added', type: 'file' },
      { path: 'same.txt', kind: 'modified', type: 'file' },
      { path: 'sl', kind: 'added', type: 'symlink' },
    ]);
    writeFileSync(join(ws, 'same.txt'), 'ZZZZ'); // copied back by hand, same mode
    writeFileSync(join(ws, 'diff.txt'), 'CCCC'); // same size, other bytes
    symlinkSync('t', join(ws, 'sl'));
    expect(await sandboxes.changes(h)).toEqual([
      { path: 'diff.txt', kind: 'modified', type: 'file' },
      { path: 'mode.txt', kind: 'modified', type: 'file' }, // same bytes, other mode
      { path: 'new.txt', kind: 'added', type: 'file' },
    ]);
    await sandboxes.apply(h);
    expect(await sandboxes.changes(h)).toEqual([]);
  });
});

describe.skipIf(skip)('an empty workspace (no host directory) on the writable layer', () => {
  it('is saved and restored with the rest, keeps its mode, lists every entry as added, and has nothing to apply to', async () => {
    const h = await sandboxes.start(define());
    started.push(h);
    const r = await exec(h, 'pwd; mkdir src && echo "print(42)" > src/main.py && ln -s src/main.py link && echo x > gone.txt && rm gone.txt && chmod 750 /workspace');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('/workspace\n');
    const listed = [
      { path: 'link', kind: 'added', type: 'symlink' },
      { path: 'src', kind: 'added', type: 'dir' },
      { path: 'src/main.py', kind: 'added', type: 'file' },
    ];
    expect(await sandboxes.changes(h)).toEqual(listed);
    await expect(sandboxes.apply(h)).rejects.toMatchObject({ code: 'NO_HOST_WORKSPACE' });
    const dest = join(temp('bkg-empty-ws-'), 'state');
    await sandboxes.save(h, dest);
    await sandboxes.stop(h);
    expect(readFileSync(join(dest, 'upper', 'src', 'main.py'), 'utf8')).toBe('print(42)\n'); // the upper directory is /workspace itself
    expect(await sandboxes.changesIn(dest, undefined)).toEqual(listed); // a stopped sandbox's saved files list the same
    const back = await sandboxes.start(define({ restoreFrom: dest }));
    started.push(back);
    const again = await exec(back, 'pwd; python3 src/main.py; readlink link; stat -c %a /workspace; ls');
    expect(again.stderr).toBe('');
    expect(again.stdout).toBe('/workspace\n42\nsrc/main.py\n750\nlink\nsrc\n');
  });
});

/** An exec with the control descriptor and no terminal, driven by hand (HelperRun only exposes resize). */
function execControlled(def: SandboxDefinition, h: SandboxHandle, script: string) {
  const spec = encodeSpec(buildExecSpec(def, { argv: ['/bin/sh', '-c', script] }, host, planCgroups(host.cgroups, def.id, def.limits)));
  const child = spawn(host.helperPath, ['--args', '3', '--json-status-fd', '4', '--exec-into', String(h.initPid), '--control-fd', '5'], { stdio: ['ignore', 'pipe', 'ignore', 'pipe', 'pipe', 'pipe'], env: {} });
  (child.stdio[3] as Writable).end(spec);
  const control = (child.stdio as unknown as Writable[])[5] as Writable;
  control.on('error', () => {});
  const events: HelperEvent[] = [];
  createInterface({ input: child.stdio[4] as Readable }).on('line', (l) => events.push(parseStatusLine(l)));
  const ready = new Promise<void>((resolve) => child.stdout?.on('data', (c: Buffer) => c.toString().includes('ready') && resolve()));
  const done = new Promise<ExitedEvent | undefined>((resolve) => child.on('close', () => resolve(events.find((e): e is ExitedEvent => e.type === 'exited'))));
  return { control, ready, done };
}

describe.skipIf(skip)('signals into an exec through the control descriptor', () => {
  const def = define();
  let h: SandboxHandle;

  it('lets the command handle the signal, or die of it, without a terminal', async () => {
    h = await sandboxes.start(def);
    started.push(h);
    const trapped = execControlled(def, h, 'trap "exit 7" INT; echo ready; sleep 30 > /dev/null & wait');
    await trapped.ready;
    trapped.control.write('resize 30 100\nsignal 2\n'); // resize without a terminal is ignored
    const t0 = Date.now();
    const exited = await trapped.done;
    expect(exited).toMatchObject({ exit_code: 7, signal: null, timed_out: false, killed_by: 0 });
    expect(exited).not.toHaveProperty('disk_full'); // an exec has no scratch layer of its own
    expect(Date.now() - t0).toBeLessThan(5000);

    const plain = execControlled(def, h, 'echo ready; exec sleep 30');
    await plain.ready;
    plain.control.write('signal 2\n');
    expect(await plain.done).toMatchObject({ exit_code: null, signal: 2, timed_out: false });
  });

  it('ignores bad lines and keeps running after the control descriptor closes', async () => {
    const r = execControlled(def, h, 'echo ready; sleep 0.3; echo done');
    await r.ready;
    r.control.end('signal 0\nsignal 65\nsignal x\n');
    expect(await r.done).toMatchObject({ exit_code: 0, signal: null });
  });
});

describe.skipIf(skip)('disk_full in a run\'s exit', () => {
  async function run(script: string): Promise<ExitedEvent | undefined> {
    const def: SandboxDefinition = { id: newSandboxId(), argv: ['/bin/sh', '-c', script], limits: withDefaults({ diskBytes: 1 << 20 }), network: 'none' };
    const spec = encodeSpec(buildHelperSpec(def, host, planCgroups(host.cgroups, def.id, def.limits)));
    const { events } = await spawnHelper({ helperPath: host.helperPath, spec, seccomp: null, stdio: ['ignore', 'ignore', 'ignore'], listChanges: false }).done;
    return events.find((e): e is ExitedEvent => e.type === 'exited');
  }

  it('is true when the command filled the scratch layer and false otherwise', async () => {
    const full = await run('head -c 2000000 /dev/zero > /tmp/fill; echo $? > /tmp/rc; exit 3');
    expect(full).toMatchObject({ exit_code: 3, disk_full: true });
    const normal = await run('echo hi > /tmp/small');
    expect(normal).toMatchObject({ exit_code: 0, disk_full: false });
  });
});
