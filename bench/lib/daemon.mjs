// A real bkg daemon in a child process, for the benches that drive one: the child's side
// (`node bench/X.mjs --daemon-child`), starting and stopping it, daemons the CLI left on its home,
// and DaemonSession: a temp BKG_HOME, the daemon, a client on its socket, the sandboxes made
// through it, Ctrl-C, and a cleanup that leaves nothing behind.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename, join } from 'node:path';
import { cgroupDirs, tempDir } from './host.mjs';
import { makeClient } from './http.mjs';
import { nowMs, sleep } from './timing.mjs';

/** The limits every bench sandbox gets (an idle sandbox: 64 MiB, 32 pids). */
export const SANDBOX_LIMITS = { memory_mb: 64, pids: 32 };

/**
 * A bench script's entry: as `--daemon-child`, be the daemon (see daemonChild); else run `main`.
 * The child imports nothing more than the script's own static imports, so its RSS is the daemon's.
 */
export async function runBench(main) {
  if (process.argv.includes('--daemon-child')) await daemonChild();
  else await main();
}

/** The body of `bench/X.mjs --daemon-child`: a daemon on $BKG_HOME / $BKG_PORT, "READY <info>" on stdout; it closes on SIGTERM/SIGINT or when stdin (the parent's pipe) ends. */
export async function daemonChild() {
  const { loadDaemonConfig } = await import('../../dist/daemon/config.js');
  const { startDaemon } = await import('../../dist/daemon/main.js');
  // every BKG_* setting of the environment (a fleet bench passes BKG_DATABASE_URL, the TLS files, ...)
  const config = loadDaemonConfig({ ...process.env, BKG_PORT: process.env.BKG_PORT ?? '0' });
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

/**
 * Spawn `node <script> --daemon-child` with BKG_HOME=home, BKG_PORT=port and `env` on top of ours;
 * resolves at its READY line (60 s at most: a busy CI host starts a daemon slowly) to `{ child, info, exited }`.
 */
export function startDaemonChild({ home, port = 0, env = {}, script = process.argv[1] }) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, '--daemon-child'], { env: { ...process.env, BKG_HOME: home, BKG_PORT: String(port), ...env }, stdio: ['pipe', 'pipe', 'inherit'] });
    let buf = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('the daemon did not report ready within 60 s'));
    }, 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the daemon exited before it was ready (${signal ?? `status ${code}`})`));
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /^READY (.*)$/m.exec(buf);
      if (!m) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.stdout.removeAllListeners('data');
      child.stdout.resume(); // anything else it prints is dropped
      resolve({ child, info: JSON.parse(m[1]), exited: new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r()))) });
    });
  });
}

export const alive = (d) => Boolean(d) && d.child.exitCode === null && d.child.signalCode === null;

/** SIGTERM, then SIGKILL after 10 s. Returns null, or what went wrong ('did not stop within 10 s of SIGTERM: killed'). */
export async function stopDaemonChild(d) {
  if (!alive(d)) return null;
  d.child.kill('SIGTERM');
  let timer;
  const killed = await Promise.race([d.exited.then(() => false), new Promise((r) => (timer = setTimeout(() => r(true), 10_000)))]);
  clearTimeout(timer);
  if (!killed) return null;
  d.child.kill('SIGKILL');
  await d.exited;
  return 'did not stop within 10 s of SIGTERM: killed';
}

/**
 * Daemons the CLI started on `home` (`bin/run.js daemon start --foreground`, when nothing answered
 * on the socket), other than `ours`: a bench must not leave them behind.
 */
export function strayDaemons(home, ours = []) {
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

/** Stop strayDaemons(home, ours), saying so on stderr; `grace`: ms to let them exit on their own first (after `bkg daemon stop`). */
export async function stopStrayDaemons(prog, home, ours = [], { grace = 0 } = {}) {
  let strays = strayDaemons(home, ours);
  for (const deadline = nowMs() + grace; strays.length && nowMs() < deadline; strays = strays.filter((p) => existsSync(`/proc/${p}`))) await sleep(50);
  if (!strays.length) return;
  console.error(`${prog}: stopping ${strays.length} daemon(s) that the CLI started in ${home}: pid ${strays.join(', ')}`);
  await stopPids(strays);
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

/** A TCP port on 127.0.0.1 that was free a moment ago (the daemon binds it right after). */
export async function freePort() {
  const s = createServer();
  await new Promise((resolve, reject) => s.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = s.address();
  await new Promise((r) => s.close(() => r()));
  return port;
}

/**
 * One bench run against its own daemon:
 *
 *   const s = new DaemonSession({ prog: 'x-bench', homePrefix: 'bkg-xbench-' });
 *   const { failed } = await s.run(async () => {
 *     await s.open({ port, env });          // the daemon child on a fresh temp BKG_HOME; s.unix: a client on its socket
 *     await s.create('a'); await s.start('a'); await s.exec('a', ['true']);
 *   });
 *
 * run() turns an error into a printed failure (exit status 1) and always cleans up: the
 * defer()red closers (last first), then every sandbox still there (if our daemon died, through
 * whatever daemon answers on the home's socket, or a fresh one: either re-adopts them from the
 * database), the client, the daemon, a wait for those sandboxes' cgroup dirs, daemons the CLI
 * started on the home, the home. Ctrl-C (SIGINT/SIGTERM) makes the next check() throw.
 */
export class DaemonSession {
  /** @param {{ prog: string, homePrefix: string, strictStop?: boolean }} o  strictStop: a daemon that needs SIGKILL is a cleanup error */
  constructor({ prog, homePrefix, strictStop = false }) {
    this.prog = prog;
    this.strictStop = strictStop;
    this.home = tempDir(homePrefix);
    this.daemon = null;
    this.info = null;
    this.unix = null;
    this.env = {};
    /** Sandboxes that may exist (for cleanup), and the id of every one created (for cgroup paths). */
    this.names = new Set();
    this.ids = new Map();
    this.closers = [];
    this.aborted = null;
    const onSignal = (sig) => {
      if (this.aborted) return;
      this.aborted = sig;
      console.error(`${prog}: ${sig}: cleaning up`);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  /** Start the daemon child (BKG_PORT=port, `env` on top) and a keep-alive client on its socket; returns its info. */
  async open({ port = 0, env = {} } = {}) {
    this.env = env;
    this.daemon = await startDaemonChild({ home: this.home, port, env });
    this.info = this.daemon.info;
    if (port && this.info.port !== port) throw new Error(`the daemon listens on TCP port ${this.info.port}, not ${port}`);
    this.unix = await makeClient({ socketPath: this.info.socket });
    return this.info;
  }

  /** Throws when interrupted or when the daemon has exited. */
  check() {
    if (this.aborted) throw new Error(`interrupted by ${this.aborted}`);
    if (this.daemon && !alive(this.daemon)) throw new Error('the daemon exited');
  }

  /** check(), then a request that must answer `want`, over `client` (default: the unix socket). */
  api(method, path, body, want, client = this.unix) {
    this.check();
    return client.expect(method, path, body, want);
  }

  /** Another client (makeClient's options), closed at cleanup. */
  async client(opts) {
    const c = await makeClient(opts);
    this.defer('closing a client', () => c.close());
    return c;
  }

  /** Run `fn` at cleanup, before the sandboxes are deleted (last deferred first); a throw is a cleanup error "what: message". */
  defer(what, fn) {
    this.closers.push([what, fn]);
  }

  async create(name, body = {}) {
    this.names.add(name);
    const r = await this.api('POST', '/api/v1/sandboxes', { name, limits: SANDBOX_LIMITS, ...body }, 201);
    this.ids.set(name, r.body.id);
    return r.body;
  }

  start(name) {
    return this.api('POST', `/api/v1/sandboxes/${name}/start`, undefined, 200);
  }

  /** POST …/exec {cmd}; throws unless it exits 0. Returns the response body. */
  async exec(name, cmd, client) {
    const r = await this.api('POST', `/api/v1/sandboxes/${name}/exec`, { cmd }, 200, client);
    if (r.body.exit_code !== 0) throw new Error(`exec ${cmd.join(' ')} in ${name}: ${JSON.stringify(r.body)}`);
    return r.body;
  }

  async remove(name) {
    await this.api('DELETE', `/api/v1/sandboxes/${name}`, undefined, 204);
    this.names.delete(name);
  }

  /** An error as it should be reported: one that followed from the daemon's death says so. */
  explain(err) {
    const d = this.daemon;
    if (d && !alive(d) && !/daemon exited/.test(err?.message)) return new Error(`the daemon exited (${d.child.signalCode ?? `status ${d.child.exitCode}`}): ${err?.stack ?? err}`);
    return err;
  }

  /** Run `body`, then clean up. A failure is printed (`prog: failed: …`) and sets exit status 1. Returns { failed, errors } (cleanup errors, also printed). */
  async run(body) {
    let failure = null;
    try {
      await body(this);
    } catch (err) {
      failure = this.explain(err);
    }
    const errors = await this.close();
    for (const e of errors) console.error(`${this.prog}: cleanup: ${e}`);
    if (failure) {
      console.error(`${this.prog}: failed: ${failure.stack ?? failure}`);
      process.exitCode = 1;
    }
    return { failed: failure !== null, errors };
  }

  /** The cleanup (see the class); returns the errors. */
  async close() {
    const errors = [];
    const ours = this.daemon ? [this.daemon.child.pid] : [];
    for (const [what, fn] of this.closers.splice(0).reverse()) {
      try {
        await fn();
      } catch (err) {
        errors.push(`${what}: ${err.message}`);
      }
    }
    if (this.names.size) await this.#deleteSandboxes(errors, ours);
    await this.unix?.close();
    try {
      const why = await stopDaemonChild(this.daemon);
      if (why && this.strictStop) errors.push(`the daemon ${why}`);
    } catch (err) {
      errors.push(`stopping the daemon: ${err.message}`);
    }
    // Every sandbox this run created must have taken its cgroups with it (the helper removes them as it exits).
    if (this.ids.size) {
      const idSet = new Set(this.ids.values());
      const left = () => cgroupDirs().all.filter((d) => idSet.has(basename(d)));
      const deadline = nowMs() + 5000;
      while (left().length && nowMs() < deadline) await sleep(100);
      const dirs = left();
      if (dirs.length) errors.push(`${dirs.length} cgroup dir(s) of this run's sandboxes are left: ${dirs.slice(0, 5).join(', ')}`);
    }
    await stopStrayDaemons(this.prog, this.home, ours);
    rmSync(this.home, { recursive: true, force: true });
    if (existsSync(this.home)) errors.push(`could not remove ${this.home}`);
    return errors;
  }

  async #deleteSandboxes(errors, ours) {
    const deleteAll = async (c) => {
      const failed = [];
      for (const name of [...this.names]) {
        try {
          const r = await c.call('DELETE', `/api/v1/sandboxes/${name}`);
          if (r.status === 204 || r.status === 404) this.names.delete(name);
          else failed.push(`DELETE ${name}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
        } catch (err) {
          failed.push(`DELETE ${name}: ${err.message}`);
          if (!alive(this.daemon)) break; // a dead connection is retried by the next request; a dead daemon is not
        }
      }
      return failed;
    };
    try {
      const first = this.unix && alive(this.daemon) ? await deleteAll(this.unix) : [];
      if (!this.names.size) return;
      // Our daemon is gone (or could not delete). Whatever daemon answers on this home's socket (one
      // the CLI started) serves the same database; else start a fresh one. Either re-adopts the
      // running sandboxes, which outlive their daemon, and can delete them.
      await this.unix?.close();
      await stopDaemonChild(this.daemon);
      let c = await makeClient({ socketPath: join(this.home, 'bkg.sock') });
      const answers = await Promise.race([c.call('GET', '/healthz').then(() => true, () => false), sleep(2000).then(() => false)]);
      if (!answers) {
        await c.close();
        this.daemon = await startDaemonChild({ home: this.home, env: this.env });
        ours.push(this.daemon.child.pid);
        c = await makeClient({ socketPath: this.daemon.info.socket });
      }
      this.unix = c;
      const again = await deleteAll(c);
      if (this.names.size) errors.push(`could not delete ${this.names.size} sandbox(es): ${[...this.names].slice(0, 5).join(', ')} (${[...first, ...again].join('; ')})`);
    } catch (err) {
      errors.push(`deleting sandboxes: ${err.message}`);
    }
  }
}
