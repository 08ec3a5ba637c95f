/**
 * Every spawn of the helper goes through `launchHelper` (its argv, an empty environment, argv0
 * 'bkg-helper'), in one of three shapes: attached to a run or an exec (`spawnHelper`), detached as
 * a persistent sandbox's supervisor (`startDetachedHelper`), or a one-shot job (`runHelperJob`).
 * The fourth, a throwaway run waited for in one blocking call, is helper-blocking.ts (same argv).
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import type { Server, Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { BkgError } from '../api/errors.js';
import { helperFailure } from './errors-from-helper.js';
import { parseStatusLine, type ErrorEvent, type HelperEvent } from './helper-events.js';
import { processStartTime } from './handle.js';
import { eachLine } from './lines.js';
import type { HelperLauncher } from './launcher.js';
import { epochMs } from './tracing.js';

export { parseStatusLine } from './helper-events.js';
export type { ChangeEvent, ErrorEvent, ExitedEvent, HelperEvent, ReadyEvent, StartedEvent } from './helper-events.js';

export type StdioMode = 'inherit' | 'pipe' | 'ignore';

/** The descriptors the helper is told about, and the arguments of the mode it runs in. */
export interface HelperLaunch {
  /** The spec's NUL-separated tokens arrive here (--args). */
  specFd?: number;
  /** Status JSON lines go out here. */
  statusFd: number;
  /** Held open by us while we still need the scratch layer. */
  holdFd?: number;
  seccompFd?: number;
  /** Control lines ("resize ROWS COLS", "signal N") arrive here. */
  controlFd?: number;
  /** The Node.js IPC channel ('ipc' in stdio) the egress socket is passed over. */
  ipcFd?: number;
  /** Mode flags and their operands: --list-changes, --exec-into PID, --changes SCRATCH DIR, --save SCRATCH DEST, --take-egress PID PORT. */
  args?: string[];
  stdio: StdioOptions;
  /** Outlive us (a persistent sandbox's supervisor). */
  detached?: boolean;
}

/** The one place the helper is spawned: nothing of our environment leaks in, and ps shows what it is. */
function launchHelper(helperPath: string, l: HelperLaunch): ChildProcess {
  return spawn(helperPath, helperArgv(l), { stdio: l.stdio, env: {}, argv0: 'bkg-helper', detached: l.detached === true });
}

/** The helper's arguments for a launch: its descriptors, then its mode (how it is spawned is the caller's). */
export function helperArgv(l: Omit<HelperLaunch, 'stdio' | 'detached'>): string[] {
  return [
    ...(l.specFd === undefined ? [] : ['--args', String(l.specFd)]),
    '--json-status-fd', String(l.statusFd),
    ...(l.holdFd === undefined ? [] : ['--hold-fd', String(l.holdFd)]),
    ...(l.seccompFd === undefined ? [] : ['--seccomp', String(l.seccompFd)]),
    ...(l.args ?? []),
    ...(l.controlFd === undefined ? [] : ['--control-fd', String(l.controlFd)]),
    ...(l.ipcFd === undefined ? [] : ['--ipc-fd', String(l.ipcFd)]),
  ];
}

export function notRunnable(helperPath: string, err: NodeJS.ErrnoException): Error {
  return err.code === 'ENOENT' || err.code === 'EACCES' ? new BkgError('HELPER_MISSING', `sandbox helper not runnable at ${helperPath}: ${err.code}`) : err;
}

/**
 * The listening socket the helper passes over the IPC channel (a sandbox with an allowlisted
 * network: its 127.0.0.1:3128, created inside its network namespace), as a net.Server here.
 */
function egressServerOf(child: ChildProcess, what: string): Promise<Server> {
  return new Promise<Server>((resolve, reject) => {
    const onMessage = (msg: unknown, handle: unknown): void => {
      if ((msg as { bkg?: unknown } | null)?.bkg !== 'egress' || !handle) return;
      child.off('message', onMessage);
      resolve(handle as Server);
    };
    child.on('message', onMessage);
    child.once('disconnect', () => reject(new BkgError('HELPER_FAILED', `${what}: the helper passed no egress socket`)));
  });
}

/** The IPC channel's index in the helper's stdio when it passes an egress socket. */
const IPC_FD = 8;

/** How long an exec's output may still arrive once its command has exited. */
const EXIT_GRACE_MS = 200;

export interface HelperRun {
  pid: number;
  /** With `egress`: the sandbox's egress socket, once the helper passed it (rejects if it never does). */
  egress: Promise<Server> | null;
  stdin: Writable | null;
  stdout: Readable | null;
  stderr: Readable | null;
  /** Resolves when the helper exits, with every status event it sent. */
  done: Promise<{ events: HelperEvent[]; code: number | null; signal: NodeJS.Signals | null }>;
  /** Called when the 'exited' event arrives, while the scratch layer (if any) is still held. */
  onExited(fn: (scratchPath: string | null) => Promise<void>): void;
  /** The status events received so far. */
  events(): HelperEvent[];
  kill(signal?: NodeJS.Signals): void;
  /** Set the terminal size (only with `control` and a terminal). */
  resize(rows: number, cols: number): void;
  /** Send signal `n` to the command and its process group (only with `control`). */
  signal(n: number): void;
}

/**
 * A run's status lines as events, for either transport (a spawned helper's status pipe, an exec
 * server's frames): each 'exited' event runs the caller's hook (held in `pending`), and `settle`
 * waits for those hooks, rejecting with the first that failed.
 */
export function readStatus(input: Readable, onExited: (ev: Extract<HelperEvent, { type: 'exited' }>) => Promise<void>): { events: HelperEvent[]; settle(): Promise<void> } {
  const events: HelperEvent[] = [];
  const pending: Promise<void>[] = [];
  eachLine(input, (line) => {
    const ev = parseStatusLine(line);
    events.push(ev);
    if (ev.type === 'exited') pending.push(onExited(ev));
  });
  return {
    events,
    async settle() {
      const failed = (await Promise.allSettled(pending)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}

/** An attached helper for one command: a throwaway run, or (with `execInto`) an exec into a running sandbox. */
export function spawnHelper(opts: {
  helperPath: string;
  spec: Buffer;
  seccomp: Buffer | null;
  stdio: [StdioMode, StdioMode, StdioMode];
  listChanges: boolean;
  /** Run the spec's command inside the running sandbox whose init has this pid. */
  execInto?: number;
  /** Open descriptor 7 for control lines ("resize ROWS COLS", "signal N"). */
  control?: boolean;
  /** The spec asks for an egress socket (--egress-port): receive it over an IPC channel (HelperRun.egress). */
  egress?: boolean;
}): HelperRun {
  const args = [...(opts.listChanges ? ['--list-changes'] : []), ...(opts.execInto === undefined ? [] : ['--exec-into', String(opts.execInto)])];
  const child = launchHelper(opts.helperPath, {
    specFd: 3, statusFd: 5, holdFd: 6, ...(opts.seccomp ? { seccompFd: 4 } : {}), ...(opts.control ? { controlFd: 7 } : {}), ...(opts.egress ? { ipcFd: IPC_FD } : {}), args,
    stdio: [...opts.stdio, 'pipe', 'pipe', 'pipe', 'pipe', ...(opts.control ? ['pipe' as const] : opts.egress ? ['ignore' as const] : []), ...(opts.egress ? ['ipc' as const] : [])],
  });
  const egress = opts.egress ? egressServerOf(child, 'sandbox run') : null;
  egress?.catch(() => {});
  const [specIn, seccompIn, statusOut, hold] = [3, 4, 5, 6].map((i) => child.stdio[i]) as [Writable, Writable, Readable, Writable];
  specIn.on('error', () => {});
  seccompIn.on('error', () => {});
  hold.on('error', () => {});
  const control = (child.stdio as unknown as (Writable | null | undefined)[])[7] ?? null;
  control?.on('error', () => {});
  specIn.end(opts.spec);
  seccompIn.end(opts.seccomp ?? undefined);

  let exitedHook: ((scratchPath: string | null) => Promise<void>) | null = null;
  const { events, settle } = readStatus(statusOut, (ev) => {
    const scratch = ev.scratch_fd !== undefined && child.pid !== undefined ? `/proc/${child.pid}/fd/${ev.scratch_fd}` : null;
    return (exitedHook ? exitedHook(scratch) : Promise.resolve()).finally(() => hold.end());
  });
  if (opts.execInto !== undefined) {
    // The exec ends with its command: processes it left running in the sandbox may hold our pipes
    // open; what they write after the command ended is not this exec's output.
    child.on('exit', () => setTimeout(() => {
      child.stdout?.destroy();
      child.stderr?.destroy();
    }, EXIT_GRACE_MS).unref());
  }
  const done = new Promise<{ events: HelperEvent[]; code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) => {
      hold.end();
      reject(notRunnable(opts.helperPath, err));
    });
    child.on('close', (code, signal) => {
      hold.end();
      settle().then(() => resolve({ events, code, signal }), reject);
    });
  });
  return {
    pid: child.pid ?? -1,
    egress,
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
    done,
    onExited(fn) {
      exitedHook = fn;
    },
    events: () => [...events],
    kill(signal = 'SIGTERM') {
      child.kill(signal);
    },
    resize(rows, cols) {
      if (control && !control.destroyed) control.write(`resize ${Math.floor(rows)} ${Math.floor(cols)}\n`);
    },
    signal(n) {
      if (control && !control.destroyed && Number.isInteger(n) && n >= 1 && n <= 64) control.write(`signal ${n}\n`);
    },
  };
}

/** When a supervisor's start got where (epoch ms, for traces): spawned, its 'started' line (cgroups, namespaces, id maps), its 'ready' line (mounts). */
export interface StartMarks {
  launched: number;
  spawned?: number;
  started?: number;
  ready?: number;
}

/**
 * The supervising helper of a persistent sandbox, detached from us: resolves once the sandbox is
 * ready, with the helper's pid and its events so far. On failure the helper is killed (it then
 * kills the sandbox and removes its cgroups) and the error says why.
 */

export async function startDetachedHelper(helperPath: string, spec: Buffer, opts: { id: string; timeoutMs: number; egress?: boolean; launcher?: HelperLauncher | null }): Promise<{ pid: number | undefined; events: HelperEvent[]; egress: Server | null; marks: StartMarks }> {
  const marks: StartMarks = { launched: epochMs() };
  // through the launcher when there is one (the egress socket comes over a Node IPC channel: only our own spawn has one)
  const sock = opts.launcher && !opts.egress ? await opts.launcher.open(spec) : null;
  const launched = sock ? await fromLauncher(sock, opts, marks) : null;
  if (launched) return launched;
  const stdio: StdioOptions = ['ignore', 'ignore', 'ignore', 'pipe', 'pipe', ...(opts.egress ? ['ignore' as const, 'ignore' as const, 'ignore' as const, 'ipc' as const] : [])];
  const child = launchHelper(helperPath, { specFd: 3, statusFd: 4, stdio, detached: true, ...(opts.egress ? { ipcFd: IPC_FD } : {}) });
  child.once('spawn', () => (marks.spawned = epochMs()));
  const egressServer = opts.egress ? egressServerOf(child, `sandbox ${opts.id}`) : null;
  egressServer?.catch(() => {});
  const specIn = child.stdio[3] as Writable;
  const status = child.stdio[4] as Readable;
  specIn.on('error', () => {});
  specIn.end(spec);
  const events: HelperEvent[] = [];
  let egress: Server | null = null;
  try {
    await untilReady(status, opts, marks, events, {
      ended: () => new BkgError('HELPER_FAILED', `sandbox ${opts.id} exited while starting`),
      failed: (fail) => child.on('error', (err: NodeJS.ErrnoException) => fail(new BkgError('HELPER_MISSING', `sandbox helper not runnable at ${helperPath}: ${err.code}`))),
    });
    egress = egressServer ? await withTimeout(egressServer, opts.timeoutMs, `sandbox ${opts.id} passed no egress socket within ${opts.timeoutMs} ms`) : null;
  } catch (err) {
    child.kill('SIGTERM');
    if (child.connected) child.disconnect();
    throw err;
  }
  status.destroy(); // the helper ignores a reader that went away
  if (child.connected) child.disconnect(); // the helper keeps its own copy of the egress socket (a restarted daemon takes it again)
  child.unref();
  return { pid: child.pid, events, egress, marks };
}

/**
 * A supervisor's status lines until its 'ready' (true), into `events` and `marks`. An 'error' line, the
 * deadline or a failure `failed` reports rejects; an end of the lines first gives `ended()`'s error, or
 * false when it gives none. `take` may claim a line before it is read as a status line.
 */
function untilReady(status: Readable, opts: { id: string; timeoutMs: number }, marks: StartMarks, events: HelperEvent[], o: {
  take?: (line: string) => boolean;
  ended: () => Error | null;
  failed?: (fail: (err: Error) => void) => void;
}): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    let settled = false;
    let stopLines = (): void => {};
    const finish = (err: Error | null, ready = true): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stopLines();
      if (err) reject(err);
      else resolve(ready);
    };
    const timer = setTimeout(() => finish(new BkgError('HELPER_FAILED', `sandbox ${opts.id} did not start within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    o.failed?.((err) => finish(err));
    stopLines = eachLine(status, (line) => {
      if (o.take?.(line)) return;
      const ev = parseStatusLine(line);
      events.push(ev);
      if (ev.type === 'started' || ev.type === 'ready') marks[ev.type] = epochMs();
      if (ev.type === 'ready') finish(null);
      if (ev.type === 'error') finish(helperFailure(ev));
    }, () => finish(o.ended(), false));
  });
}

/** A supervisor the launcher started: null when it started none (nothing was spawned: the caller spawns one itself). */
async function fromLauncher(sock: Socket, opts: { id: string; timeoutMs: number }, marks: StartMarks): Promise<{ pid: number; events: HelperEvent[]; egress: null; marks: StartMarks } | null> {
  const events: HelperEvent[] = [];
  let pid: number | undefined;
  let startTime: string | null = null; // not our child: its pid is checked against this before a kill
  try {
    const started = await untilReady(sock, opts, marks, events, {
      // the launcher's own first line: the supervisor's pid
      take: (line) => {
        const spawned = pid === undefined ? /^\{"type":"spawned","pid":(\d+)\}$/.exec(line) : null;
        if (!spawned) return false;
        pid = Number(spawned[1]);
        startTime = processStartTime(pid);
        marks.spawned = epochMs();
        return true;
      },
      // an end before 'spawned': nothing was started
      ended: () => (pid === undefined ? null : new BkgError('HELPER_FAILED', `sandbox ${opts.id} exited while starting`)),
    });
    if (!started || pid === undefined) return null;
    return { pid, events, egress: null, marks };
  } catch (err) {
    // still the supervisor it started (not a process that took its pid since): it then kills the sandbox and removes its cgroups
    if (pid !== undefined && startTime !== null && processStartTime(pid) === startTime) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // gone already
      }
    }
    throw err;
  } finally {
    sock.destroy(); // the helper ignores a reader that went away
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new BkgError('HELPER_FAILED', message)), ms)))]).finally(() => clearTimeout(timer));
}

/**
 * The egress socket of a running sandbox whose helper `helperPid` holds it (after a daemon restart):
 * a helper job takes a duplicate of it (pidfd_getfd) and passes it over an IPC channel.
 */
export async function takeEgressSocket(helperPath: string, helperPid: number, port: number, timeoutMs = 5_000): Promise<Server> {
  const child = launchHelper(helperPath, { statusFd: 1, ipcFd: 3, args: ['--take-egress', String(helperPid), String(port)], stdio: ['ignore', 'pipe', 'ignore', 'ipc'] });
  const out: Buffer[] = [];
  child.stdout?.on('data', (c: Buffer) => out.push(c));
  const failed = new Promise<never>((_, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) => reject(notRunnable(helperPath, err)));
    child.on('close', () => {
      const err = Buffer.concat(out).toString('utf8').split('\n').filter(Boolean).map(parseStatusLine).find((e): e is ErrorEvent => e.type === 'error');
      reject(new BkgError('HELPER_FAILED', `could not take the egress socket of helper ${helperPid}${err ? `: ${err.message}` : ''}`));
    });
  });
  failed.catch(() => {});
  try {
    return await withTimeout(Promise.race([egressServerOf(child, `helper ${helperPid}`), failed]), timeoutMs, `the egress socket of helper ${helperPid} did not arrive within ${timeoutMs} ms`);
  } finally {
    if (child.connected) child.disconnect();
  }
}

/** One job of the helper outside any sandbox (--changes, --save): its status lines, or the error it reported. */
export async function runHelperJob(helperPath: string, args: string[], what: string): Promise<HelperEvent[]> {
  const out: Buffer[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = launchHelper(helperPath, { statusFd: 1, args, stdio: ['ignore', 'pipe', 'ignore'] });
    child.stdout?.on('data', (c: Buffer) => out.push(c));
    child.on('error', (err: NodeJS.ErrnoException) => reject(notRunnable(helperPath, err)));
    child.on('close', resolve);
  });
  const events = Buffer.concat(out).toString('utf8').split('\n').filter(Boolean).map(parseStatusLine);
  if (code !== 0) {
    const err = events.find((e): e is ErrorEvent => e.type === 'error');
    throw new BkgError('HELPER_FAILED', `could not ${what}${err ? `: ${err.message}${err.errno ? ` (errno ${err.errno})` : ''}` : ''}`);
  }
  return events;
}
