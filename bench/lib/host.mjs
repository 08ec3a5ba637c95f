// The host a bench runs on: paths, what it must have, temp dirs, cgroup dirs, mounts.
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { die } from './options.mjs';

/** The repository root, and the CLI's entry point in it. */
export const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
export const RUN_JS = join(ROOT, 'bin/run.js');

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

/**
 * die() unless this is Linux, run as root (`root`: the message why it must be) and `dist` (files
 * under the root) is built. With `helper`: also a built bkg-helper; returns detectHost()'s result.
 */
export async function checkHost({ root, dist = [], helper = false }) {
  if (process.platform !== 'linux') die('needs Linux');
  if (root && process.getuid?.() !== 0) die(root);
  if (dist.some((f) => !existsSync(join(ROOT, f)))) die('dist/ is missing: run `npx tsc -p tsconfig.build.json` first');
  if (!helper) return null;
  const { detectHost } = await import('../../dist/runtime/host.js');
  const host = detectHost();
  if (!existsSync(host.helperPath)) die(`helper not found at ${host.helperPath} (build it: make -C helper)`);
  return host;
}

/** A fresh directory under the temp dir, by its real path. */
export const tempDir = (prefix) => realpathSync(mkdtempSync(join(tmpdir(), prefix)));

/** The environment for running the CLI against the daemon on `home`: never BKG_API_URL/KEY; BKG_PORT=0, so a daemon it starts takes no TCP port. */
export function cliEnv(home) {
  const env = { ...process.env, BKG_HOME: home, BKG_PORT: '0' };
  delete env.BKG_API_URL;
  delete env.BKG_API_KEY;
  return env;
}

/** `host: Linux …, N CPU(s) (model), node v…` for a bench's header. */
export const hostLine = () => `host: Linux ${release()}, ${cpus().length} CPU(s) (${cpus()[0]?.model.trim() ?? '?'}), node ${process.version}`;
/** The same facts for the JSON line. */
export const hostFacts = () => ({ kernel: release(), cpus: cpus().length, node: process.version });

export const mountCount = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean).length;

export const cgroupV2 = () => existsSync('/sys/fs/cgroup/cgroup.controllers');

/** bkg's parent cgroups: /sys/fs/cgroup/bkg (v2), or /sys/fs/cgroup/<controller>/bkg (v1, cpuacct counting CPU time), by controller. */
export function cgroupBases() {
  return cgroupV2() ? { unified: '/sys/fs/cgroup/bkg' } : Object.fromEntries(['memory', 'cpu', 'pids', 'cpuacct'].map((c) => [c, `/sys/fs/cgroup/${c}/bkg`]));
}

/** The child directories of `bases` ({ name: path }), by full path, and how many under each. */
export function cgroupDirs(bases = cgroupBases()) {
  const byController = {};
  const all = [];
  for (const [c, base] of Object.entries(bases)) {
    byController[c] = 0;
    try {
      for (const e of readdirSync(base, { withFileTypes: true })) {
        if (!e.isDirectory()) continue;
        byController[c]++;
        all.push(join(base, e.name));
      }
    } catch {
      /* no base yet: nothing there */
    }
  }
  return { byController, all };
}
