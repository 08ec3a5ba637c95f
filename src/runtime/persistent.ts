/**
 * Persistent sandboxes: started once, then commands exec'd into them until they are stopped or
 * their lifetime ends. The helper that supervises one runs detached from whoever started it, so a
 * daemon restart re-adopts running sandboxes from their recorded handles.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmdirSync, statfsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { BkgError } from '../api/errors.js';
import type { Logger } from '../log.js';
import { planCgroups, readCgroupReport } from './cgroups.js';
import { applyChanges, changesOf, sortChanges, UPPER_DIR, type Change } from './changes.js';
import { limitsHit, type ExecDefinition, type SandboxDefinition } from './definition.js';
import { helperFailure } from './errors-from-helper.js';
import { parseStatusLine, spawnHelper, type ErrorEvent, type ExitedEvent, type HelperEvent } from './helper-process.js';
import type { HostInfo } from './host.js';
import { attachIO, type RunIO } from './io.js';
import type { RunResult } from './runtime.js';
import { SeccompPrograms } from './seccomp/programs.js';
import { buildExecSpec, buildHelperSpec, encodeSpec } from './spec.js';

/** What must be remembered (e.g. in the database) to find a running sandbox again. */
export interface SandboxHandle {
  id: string;
  /** Host pid of the sandbox's init (pid 1 inside). */
  initPid: number;
  /** Host pid of the helper supervising it, and its start time (guards against pid reuse). */
  helperPid: number;
  helperStartTime: string;
  /** The helper's descriptor for the scratch layer (workspace upper, /tmp), if any. */
  scratchFd: number | null;
}

export type ExecResult = Omit<RunResult, 'changes' | 'applied'>;

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

/** Field 22 of /proc/PID/stat: start time in clock ticks since boot; null when the pid is gone or a zombie. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return null;
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class PersistentSandboxes {
  private readonly programs = new SeccompPrograms();

  constructor(private readonly deps: { host: HostInfo; log: Logger }) {}

  /** Start a sandbox that stays up; resolves once its filesystem is built. */
  async start(def: SandboxDefinition): Promise<SandboxHandle> {
    const { host, log } = this.deps;
    const plan = planCgroups(host.cgroups, def.id, def.limits);
    const spec = encodeSpec(buildHelperSpec({ ...def, persist: true }, host, plan));
    const child = spawn(host.helperPath, ['--args', '3', '--json-status-fd', '4'], {
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'],
      env: {},
      argv0: 'bkg-helper',
    });
    const specIn = child.stdio[3] as Writable;
    const status = child.stdio[4] as Readable;
    specIn.on('error', () => {});
    specIn.end(spec);
    const events: HelperEvent[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new BkgError('HELPER_FAILED', `sandbox ${def.id} did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
        const lines = createInterface({ input: status, crlfDelay: Infinity });
        let settled = false;
        const finish = (err?: Error): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (err) reject(err);
          else resolve();
          lines.close();
        };
        child.on('error', (err: NodeJS.ErrnoException) => finish(new BkgError('HELPER_MISSING', `sandbox helper not runnable at ${host.helperPath}: ${err.code}`)));
        lines.on('line', (line) => {
          const ev = parseStatusLine(line);
          events.push(ev);
          if (ev.type === 'ready') finish();
          if (ev.type === 'error') finish(helperFailure(ev));
        });
        lines.on('close', () => finish(new BkgError('HELPER_FAILED', `sandbox ${def.id} exited while starting`)));
      });
    } catch (err) {
      child.kill('SIGTERM'); // the helper kills the sandbox and removes its cgroups
      throw err;
    }
    status.destroy(); // the helper ignores a reader that went away
    child.unref();
    const started = events.find((e): e is { type: 'started'; pid: number } => e.type === 'started');
    const ready = events.find((e) => e.type === 'ready');
    const helperPid = child.pid;
    const helperStartTime = helperPid === undefined ? null : processStartTime(helperPid);
    if (!started || !ready || helperPid === undefined || helperStartTime === null) throw new BkgError('HELPER_FAILED', `sandbox ${def.id} did not report its start`);
    log.debug({ id: def.id, initPid: started.pid, helperPid }, 'sandbox started');
    return { id: def.id, initPid: started.pid, helperPid, helperStartTime, scratchFd: ready.type === 'ready' ? (ready.scratch_fd ?? null) : null };
  }

  /** Whether the helper recorded in the handle is still the one supervising this sandbox. */
  isRunning(h: SandboxHandle): boolean {
    return processStartTime(h.helperPid) === h.helperStartTime && processStartTime(h.initPid) !== null;
  }

  private requireRunning(h: SandboxHandle): void {
    if (!this.isRunning(h)) throw new BkgError('SANDBOX_NOT_RUNNING', `sandbox ${h.id} is not running`);
  }

  /** Run one command inside the running sandbox. */
  async exec(def: SandboxDefinition, h: SandboxHandle, exec: ExecDefinition, io: RunIO): Promise<ExecResult> {
    const { host } = this.deps;
    this.requireRunning(h);
    if (exec.argv.length === 0) throw new BkgError('INVALID_ARGUMENT', 'cmd: no command to run');
    const plan = planCgroups(host.cgroups, def.id, def.limits);
    const spec = encodeSpec(buildExecSpec(def, exec, host, plan));
    const before = readCgroupReport(readReports(plan.reports));
    const run = spawnHelper({ helperPath: host.helperPath, spec, seccomp: await this.programs.program(def.seccomp, def.allowNestedNamespaces === true), stdio: io.stdio, listChanges: false, execInto: h.initPid, control: true });
    attachIO(run, io);
    const { events } = await run.done;
    const exited = events.find((e): e is ExitedEvent => e.type === 'exited');
    const errors = events.filter((e): e is ErrorEvent => e.type === 'error');
    const execError = errors.find((e) => e.stage === 'exec');
    if (!exited) throw helperFailure(errors.find((e) => e.stage !== 'exec') ?? execError ?? { type: 'error', stage: 'exec', errno: 0, message: 'the helper exited without a result' });
    const after = readCgroupReport(readReports(plan.reports));
    const oomKilled = after.oomKills > before.oomKills;
    return {
      id: def.id,
      exitCode: exited.exit_code,
      signal: exited.signal,
      timedOut: exited.timed_out,
      oomKilled,
      durationMs: exited.duration_ms,
      peakMemoryBytes: after.peakMemoryBytes,
      limitsHit: limitsHit({ oomKilled, timedOut: exited.timed_out, pidsRefused: after.pidsRefusals > before.pidsRefusals, diskFull: this.scratchFull(h) }),
      ...(execError ? { execError: execError.message } : {}),
    };
  }

  /** Whether the sandbox's writable space (its scratch tmpfs, capped at limits.diskBytes) is full. */
  private scratchFull(h: SandboxHandle): boolean {
    if (h.scratchFd === null) return false;
    try {
      const st = statfsSync(`/proc/${h.helperPid}/fd/${h.scratchFd}`);
      return st.bavail === 0 || st.bfree === 0;
    } catch {
      return false;
    }
  }

  /** The running sandbox's writable layer (its scratch tmpfs), as the host reaches it. */
  scratchOf(h: SandboxHandle): string {
    this.requireRunning(h);
    if (h.scratchFd === null) throw new BkgError('HELPER_FAILED', `sandbox ${h.id} has no scratch layer`);
    return `/proc/${h.helperPid}/fd/${h.scratchFd}`;
  }

  /** One job of the helper outside any sandbox (--changes, --save): its status lines, or the error it reported. */
  private async helperJob(args: string[], what: string): Promise<HelperEvent[]> {
    const out: Buffer[] = [];
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(this.deps.host.helperPath, ['--json-status-fd', '1', ...args], { stdio: ['ignore', 'pipe', 'ignore'], env: {} });
      child.stdout.on('data', (c: Buffer) => out.push(c));
      child.on('error', reject);
      child.on('close', resolve);
    });
    const events = Buffer.concat(out).toString('utf8').split('\n').filter(Boolean).map(parseStatusLine);
    if (code !== 0) {
      const err = events.find((e): e is ErrorEvent => e.type === 'error');
      throw new BkgError('HELPER_FAILED', `could not ${what}${err ? `: ${err.message}${err.errno ? ` (errno ${err.errno})` : ''}` : ''}`);
    }
    return events;
  }

  /** The workspace changes in a writable layer (a running sandbox's, or one saved on stop), listed by the helper. */
  async changesIn(scratch: string, workspace: string): Promise<Change[]> {
    return sortChanges(changesOf(await this.helperJob(['--changes', scratch, workspace], 'list the workspace changes')));
  }

  /** The workspace changes so far (added / modified / deleted). */
  async changes(def: SandboxDefinition, h: SandboxHandle): Promise<Change[]> {
    return def.workspace ? this.changesIn(this.scratchOf(h), def.workspace) : [];
  }

  /** Copy the workspace changes of a writable layer back to the host directory. */
  async applyFrom(scratch: string, workspace: string): Promise<Change[]> {
    const changes = await this.changesIn(scratch, workspace);
    await applyChanges(`${scratch}/${UPPER_DIR}`, workspace, changes);
    return changes;
  }

  async apply(def: SandboxDefinition, h: SandboxHandle): Promise<Change[]> {
    return def.workspace ? this.applyFrom(this.scratchOf(h), def.workspace) : [];
  }

  /**
   * Copy a running sandbox's whole writable layer (workspace changes, /tmp, /dev/shm, HOME) to
   * `dest` on the host (which must not exist), for a later start to restore.
   */
  async save(h: SandboxHandle, dest: string): Promise<void> {
    await this.helperJob(['--save', this.scratchOf(h), dest], `save the files of sandbox ${h.id}`);
  }

  /** Remove cgroups a sandbox left behind when its helper could not (it was SIGKILLed). */
  cleanup(id: string, limits: SandboxDefinition['limits']): void {
    let plan;
    try {
      plan = planCgroups(this.deps.host.cgroups, id, limits);
    } catch {
      return;
    }
    for (const dir of [...plan.dirs].reverse()) {
      try {
        rmdirSync(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.deps.log.warn({ dir, err }, 'could not remove a leftover cgroup');
      }
    }
  }

  /** Stop the sandbox: every process in it is killed, its mounts and cgroups go. Idempotent. */
  async stop(h: SandboxHandle): Promise<void> {
    if (!this.isRunning(h)) return;
    process.kill(h.helperPid, 'SIGTERM');
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (processStartTime(h.helperPid) === h.helperStartTime) {
      if (Date.now() > deadline) {
        process.kill(h.helperPid, 'SIGKILL');
        break;
      }
      await sleep(5);
    }
  }
}

function readReports(files: Record<string, string>): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const [name, path] of Object.entries(files)) {
    try {
      out[name] = readFileSync(path, 'utf8');
    } catch {
      out[name] = null;
    }
  }
  return out;
}
