// Helpers shared by the bench scripts.
import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';

/** An executable on PATH, or null. */
export function which(name) {
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      if (statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export const mountCount = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean).length;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

/** Round every non-integer number in a JSON value to 3 decimals. */
export function round3(o) {
  if (Array.isArray(o)) return o.map(round3);
  if (o && typeof o === 'object') return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, round3(v)]));
  return typeof o === 'number' && !Number.isInteger(o) ? Math.round(o * 1000) / 1000 : o;
}

/** The body of `bench/X.mjs --daemon-child`: a daemon on $BKG_HOME / $BKG_PORT, "READY <info>" on stdout. */
export async function daemonChild() {
  const { loadDaemonConfig } = await import('../dist/daemon/config.js');
  const { startDaemon } = await import('../dist/daemon/main.js');
  const config = loadDaemonConfig({ BKG_HOME: process.env.BKG_HOME, BKG_PORT: process.env.BKG_PORT ?? '0' });
  const daemon = await startDaemon({ config });
  let closing = false;
  const stop = () => {
    if (closing) return;
    closing = true;
    daemon.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop).on('error', stop).resume();
  void daemon.closed.then(stop);
  process.stdout.write(`READY ${JSON.stringify(daemon.info)}\n`);
}

/** Daemons started by the CLI on `home` (not ours): a bench must not leave them behind. */
export function strayDaemons(home, ours) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid || ours.includes(Number(name))) continue;
    try {
      if (!readFileSync(`/proc/${name}/environ`, 'utf8').split('\0').includes(`BKG_HOME=${home}`)) continue;
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (argv.some((a) => a.endsWith('bin/run.js')) && argv.includes('daemon')) out.push(Number(name));
    } catch {
      /* gone, or not readable */
    }
  }
  return out;
}

/** SIGTERM, wait up to 10 s, then SIGKILL. */
export async function stopPids(pids) {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  const deadline = nowMs() + 10_000;
  while (pids.some((p) => existsSync(`/proc/${p}`)) && nowMs() < deadline) await sleep(50);
  for (const pid of pids.filter((p) => existsSync(`/proc/${p}`))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort() {
  const s = createServer();
  await new Promise((resolve, reject) => s.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = s.address();
  await new Promise((r) => s.close(() => r()));
  return port;
}
