#!/usr/bin/env node
// Snapshots and forks of a sandbox holding N MiB of changes (default 100), through a real daemon:
//
//   snapshot (running)   POST /sandboxes/origin/snapshots: the origin held still, its tmpfs copied to disk
//   fork (running)       POST /sandboxes/origin/fork: snapshot + create + start (the snapshot restored into the fork's tmpfs)
//   stop (save)          POST /sandboxes/origin/stop: the save every stop does (for scale)
//   snapshot (stopped)   of the stopped origin: its saved files hard-linked
//   run --from           create {from_snapshot} + start: the snapshot hard-linked as the new sandbox's files, restored into its tmpfs
//
// and what each costs on disk: `du` of the snapshot alone, and what it adds next to the files it
// links (du counts a hard-linked inode once), and of the fork's own state on disk. Every fork's
// files are checked against the origin's (sha256), and a write in the fork must not reach the origin.
//
//   sudo node bench/snapshot.mjs [--quick] [--size-mb N] [--files N] [--rounds N] [--json]
//
// Needs Linux, root, a built helper (make -C helper) and dist/ (npx tsc -p tsconfig.build.json).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { DaemonSession, runBench } from './lib/daemon.mjs';
import { checkHost, hostFacts, hostLine } from './lib/host.mjs';
import { parseOptions } from './lib/options.mjs';
import { fmt, paragraph, printJson, section, table } from './lib/output.mjs';
import { nowMs, summarize } from './lib/timing.mjs';

const OPTIONS = {
  prog: 'snapshot-bench',
  script: 'snapshot.mjs',
  quick: '20 MiB, one round',
  options: {
    sizeMb: { flag: '--size-mb', env: 'BENCH_SIZE_MB', default: 100, quick: 20, help: 'MiB of changes written in the origin (random bytes)' },
    files: { flag: '--files', env: 'BENCH_FILES', default: 100, quick: 20, help: 'files they are spread over' },
    rounds: { flag: '--rounds', env: 'BENCH_ROUNDS', default: 3, quick: 1, help: 'measured rounds of every operation' },
    json: { flag: '--json', type: 'boolean', help: 'print the results as JSON instead of tables' },
  },
};

/** KiB on disk that `paths` take together (du -sk --total: a hard-linked inode counts once). */
function duKiB(...paths) {
  const out = execFileSync('du', ['-sk', '--total', ...paths], { encoding: 'utf8' });
  return Number(/^(\d+)\s+total$/m.exec(out)?.[1] ?? Number.NaN);
}

const MiB = (kib) => kib / 1024;

async function main() {
  const opts = parseOptions(OPTIONS);
  await checkHost({ root: 'must run as root (the daemon creates cgroups and id-maps sandboxes): sudo node bench/snapshot.mjs', dist: ['dist/daemon/main.js'], helper: true });
  const s = new DaemonSession({ prog: OPTIONS.prog, homePrefix: 'bkg-snapbench-' });
  const ms = { snapshotRunning: [], forkRunning: [], stopSave: [], snapshotStopped: [], runFrom: [] };
  const disk = {};
  const limits = { memory_mb: opts.sizeMb * 4 + 256, pids: 64, disk_mb: opts.sizeMb * 3 + 128 };
  const timed = async (list, fn) => {
    const t0 = nowMs();
    const r = await fn();
    list.push(nowMs() - t0);
    return r;
  };
  let fsType = '?';
  const sums = async (name) => (await s.exec(name, ['sh', '-c', 'cd /workspace/data && sha256sum * | sha256sum'])).stdout;

  const { failed } = await s.run(async () => {
    await s.open();
    fsType = execFileSync('findmnt', ['-n', '-o', 'FSTYPE', '-T', s.home], { encoding: 'utf8' }).trim();
    const origin = await s.create('origin', { limits });
    await s.start('origin');
    const per = Math.max(1, Math.floor((opts.sizeMb * 1024) / opts.files));
    await s.exec('origin', ['sh', '-c', `mkdir -p /workspace/data && i=0; while [ $i -lt ${opts.files} ]; do head -c ${per}K /dev/urandom > /workspace/data/f$i; i=$((i+1)); done`]);
    const want = await sums('origin');
    const snapDir = (id) => join(s.home, 'snapshots', id);
    const savedOf = (id) => join(s.home, 'sandboxes', id, 'files');

    for (let r = 0; r < opts.rounds; r++) {
      const snap = await timed(ms.snapshotRunning, async () => (await s.api('POST', '/api/v1/sandboxes/origin/snapshots', {}, 201)).body);
      disk.snapshotRunningKiB = duKiB(snapDir(snap.id));
      const fork = `fork-${r}`;
      s.names.add(fork);
      const forked = await timed(ms.forkRunning, async () => (await s.api('POST', '/api/v1/sandboxes/origin/fork', { name: fork }, 201)).body);
      s.ids.set(fork, forked.id);
      if ((await sums(fork)) !== want) throw new Error(`${fork} does not hold the origin's files`);
      await s.exec(fork, ['sh', '-c', 'echo fork > /workspace/data/f0']);
      if ((await sums('origin')) !== want) throw new Error(`a write in ${fork} reached the origin`);
      // on disk a running fork holds only its first files, linked from its snapshot; what it writes is in its tmpfs
      disk.forkRunningOnDiskKiB = duKiB(join(s.home, 'snapshots'), join(s.home, 'sandboxes', forked.id)) - duKiB(join(s.home, 'snapshots'));
      const usage = (await s.api('GET', `/api/v1/sandboxes/${fork}`, undefined, 200)).body.usage;
      disk.forkRunningMemoryMiB = usage ? usage.memory_bytes / 1048576 : null;

      await timed(ms.stopSave, () => s.api('POST', '/api/v1/sandboxes/origin/stop', undefined, 200));
      const stopped = await timed(ms.snapshotStopped, async () => (await s.api('POST', '/api/v1/sandboxes/origin/snapshots', {}, 201)).body);
      disk.savedKiB = duKiB(savedOf(origin.id));
      disk.snapshotStoppedAloneKiB = duKiB(snapDir(stopped.id));
      disk.snapshotStoppedAddsKiB = duKiB(savedOf(origin.id), snapDir(stopped.id)) - disk.savedKiB;
      const from = `from-${r}`;
      s.names.add(from);
      await timed(ms.runFrom, async () => {
        const c = (await s.api('POST', '/api/v1/sandboxes', { name: from, limits, from_snapshot: stopped.id }, 201)).body;
        s.ids.set(from, c.id);
        await s.start(from);
      });
      if ((await sums(from)) !== want) throw new Error(`${from} does not hold the snapshot's files`);
      await s.api('POST', `/api/v1/sandboxes/${from}/stop`, undefined, 200);
      const fromId = s.ids.get(from);
      // stopped, it holds a saved copy of its own (the stop replaced the linked tree)
      disk.fromStoppedAddsKiB = duKiB(snapDir(stopped.id), savedOf(fromId)) - duKiB(snapDir(stopped.id));
      await s.start('origin');
      for (const name of [fork, from]) await s.remove(name);
      for (const { id } of (await s.api('GET', '/api/v1/snapshots', undefined, 200)).body.snapshots) await s.api('DELETE', `/api/v1/snapshots/${id}`, undefined, 204);
    }
  });
  if (failed) return;

  const rows = [
    ['snapshot, running origin (held still, tmpfs → disk)', ms.snapshotRunning],
    ['fork, running origin (snapshot + create + start with restore)', ms.forkRunning],
    ['stop (the save every stop does, for scale)', ms.stopSave],
    ['snapshot, stopped origin (saved files hard-linked)', ms.snapshotStopped],
    ['run --from a snapshot (create + start with restore)', ms.runFrom],
  ].map(([label, xs]) => [label, summarize(xs)]);
  const diskRows = [
    ['snapshot of the running origin', MiB(disk.snapshotRunningKiB)],
    ['snapshot of the stopped origin, alone', MiB(disk.snapshotStoppedAloneKiB)],
    ['  … added next to the saved files it links', MiB(disk.snapshotStoppedAddsKiB)],
    ['a running fork\'s state on disk, next to its snapshot (its files are in its tmpfs)', MiB(disk.forkRunningOnDiskKiB)],
    ['  … its memory (cgroup: the restored tmpfs, counted there)', disk.forkRunningMemoryMiB],
    ['a sandbox run --from the snapshot, once stopped: its own saved copy', MiB(disk.fromStoppedAddsKiB)],
  ];
  if (opts.json) {
    printJson({ host: hostFacts(), sizeMb: opts.sizeMb, files: opts.files, rounds: opts.rounds, ms: Object.fromEntries(rows.map(([l, st]) => [l, st])), disk_mib: Object.fromEntries(diskRows) });
    return;
  }
  console.log(hostLine());
  console.log(`${opts.sizeMb} MiB of changes in ${opts.files} files; ${opts.rounds} round(s); BKG_HOME on ${fsType}`);
  console.log('');
  section('time (ms)');
  table(['operation', 'median', 'min', 'max'], rows.map(([l, st]) => [l, fmt(st.p50, 1), fmt(st.min, 1), fmt(st.max, 1)]));
  section('disk (MiB)');
  table(['what', 'MiB'], diskRows.map(([l, v]) => [l, fmt(v, 1)]));
  paragraph('The writable layer of a running sandbox is a tmpfs: a snapshot of a running sandbox, and a start from any snapshot, copy its bytes (out of memory, into memory). Everything between saved trees on disk is hard-linked, so a snapshot of a stopped sandbox and a stopped fork cost no new data blocks until a stop saves new files.');
}

await runBench(main);
