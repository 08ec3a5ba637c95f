/**
 * The sandbox engine: throwaway sandboxes (`run`: one command, then gone) and persistent ones
 * (`start`, then `exec`s until `stop` or the end of their lifetime), over the same per-sandbox
 * state (prepared.ts) and the same helper spawns (helper-process.ts). A persistent sandbox's
 * helper runs detached from whoever started it, so a restarted daemon `adopt`s it from its handle.
 */
import { rmdirSync } from 'node:fs';
import { allowRulesOf, EGRESS_PROXY_PORT, isAllowNetwork } from '../api/egress.js';
import { BkgError } from '../api/errors.js';
import type { Logger } from '../log.js';
import { planCgroups } from './cgroups.js';
import { applyChanges, changesOf, sortChanges, UPPER_DIR, type Change } from './changes.js';
import { noHostWorkspace, validateWorkspace, type ExecDefinition, type SandboxDefinition } from './definition.js';
import { whileFrozen } from './freeze.js';
import { EgressProxies, egressProxyMaker, type EgressOptions, type EgressProxyMaker } from './egress/proxies.js';
import { connectExec } from './exec-socket.js';
import { isRunning, requireRunning, scratchFull, scratchOf, stopHelper, processStartTime, type SandboxHandle } from './handle.js';
import { runHelperBlocking } from './helper-blocking.js';
import { runHelperJob, spawnHelper, startDetachedHelper, takeEgressSocket } from './helper-process.js';
import type { HostInfo } from './host.js';
import { attachIO, type RunIO } from './io.js';
import { HelperLauncher } from './launcher.js';
import { prepareSandbox, PreparedSandboxes, type DefinitionSource } from './prepared.js';
import { execResult, readCounters, runResult, type ExecResult, type RunOptions, type RunResult } from './results.js';
import { SeccompPrograms } from './seccomp/programs.js';
import { placeSecretFiles } from './secret-files.js';
import { buildExecSpec, buildHelperSpec, encodeSpec } from './spec.js';
import { epochMs, NO_TRACING, type Tracing } from './tracing.js';

export type { RunIO } from './io.js';
export type { SandboxHandle } from './handle.js';
export type { ExecResult, RunOptions, RunResult } from './results.js';

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

export interface EngineDeps {
  host: HostInfo;
  log: Logger;
  /** The definition of a running sandbox this engine holds no state for (started by an earlier daemon and not adopted). */
  definitionOf?: DefinitionSource;
  /** Sandboxes with an allowlisted network: who hears of their connections, how names are resolved. */
  egress?: EgressOptions;
  /** Where the phases of a start, an exec and a stop are reported (traces; absent: nowhere). */
  tracing?: Tracing;
  /** Start supervisors through a resident launcher listening here (a daemon's; absent: each is spawned by this process). */
  launcherSocket?: string;
}

/** What a caller that only runs throwaway sandboxes needs of the engine. */
export type SandboxRunner = Pick<SandboxEngine, 'run'>;

export class SandboxEngine {
  private readonly programs = new SeccompPrograms();
  private readonly prepared: PreparedSandboxes;
  /** The egress proxies of the running sandboxes with an allowlisted network. */
  private readonly egress: EgressProxies;
  private readonly tracing: Tracing;

  /** Starts the supervisors (with deps.launcherSocket), so this process never forks itself for one. */
  private readonly launcher: HelperLauncher | null;

  constructor(private readonly deps: EngineDeps) {
    this.tracing = deps.tracing ?? NO_TRACING;
    this.launcher = deps.launcherSocket ? new HelperLauncher({ helperPath: deps.host.helperPath, socketPath: deps.launcherSocket, log: deps.log }) : null;
    this.egress = new EgressProxies(deps.egress);
    this.prepared = new PreparedSandboxes((def) => prepareSandbox(def, deps.host, this.programs), deps.definitionOf);
  }

  /** One command in a throwaway sandbox: its verdict, and its workspace changes (applied on request). */
  async run(def: SandboxDefinition, io: RunIO, opts: RunOptions = {}): Promise<RunResult> {
    const { host, log } = this.deps;
    if (process.platform !== 'linux') throw new BkgError('ISOLATION_UNAVAILABLE', 'bkg sandboxes need Linux');
    if (process.arch !== 'x64') throw new BkgError('UNSUPPORTED_ARCH', `unsupported architecture ${process.arch}`);
    if (def.argv.length === 0) throw new BkgError('INVALID_ARGUMENT', 'no command to run');
    const workspace = def.workspace ? validateWorkspace(def.workspace) : undefined;
    const state = await prepareSandbox({ ...def, workspace }, host, this.programs, opts.seccomp);
    const spec = encodeSpec(buildHelperSpec(state.def, host, state.plan));
    log.debug({ id: def.id, argv: def.argv, limits: def.limits }, 'sandbox run');

    const egress = isAllowNetwork(def.network);
    if (egress) allowRulesOf(def.network); // a bad allowlist is refused before anything starts
    if (opts.block && !opts.apply && !egress && !io.onStarted && io.input === undefined && io.stdio.every((s) => s === 'inherit')) {
      const blocked = runHelperBlocking({ helperPath: host.helperPath, spec, seccomp: state.seccomp, listChanges: workspace !== undefined });
      if (blocked) return runResult(def.id, blocked.events, false);
    }
    const maker = egress ? await egressProxyMaker() : null; // loaded before its socket can arrive
    const run = spawnHelper({ helperPath: host.helperPath, spec, seccomp: state.seccomp, stdio: io.stdio, listChanges: workspace !== undefined, egress });
    const proxy = maker ? (run.egress?.then((server) => maker(def.id, def.network, server, this.deps.egress)) ?? null) : null;
    proxy?.catch(() => {});
    let applied = false;
    run.onExited(async (scratch) => {
      if (!opts.apply || !workspace || !scratch) return;
      await applyChanges(`${scratch}/${UPPER_DIR}`, workspace, changesOf(run.events()));
      applied = true;
    });
    attachIO(run, io);
    try {
      const { events } = await run.done;
      const result = runResult(def.id, events, applied);
      const denied = (await proxy?.catch(() => null))?.deniedSince(0) ?? [];
      return denied.length ? { ...result, networkDenied: denied } : result;
    } finally {
      await (await proxy?.catch(() => null))?.close();
    }
  }

  /** Start a sandbox that stays up; resolves once its filesystem is built. Its state is kept for its execs. */
  async start(def: SandboxDefinition): Promise<SandboxHandle> {
    const { host, log } = this.deps;
    const t = this.tracing;
    const state = await t.span('sandbox.start.prepare', {}, () => this.prepared.keep({ ...def, persist: true }));
    let started;
    const egress = isAllowNetwork(def.network);
    let maker: EgressProxyMaker | null = null;
    try {
      if (egress) allowRulesOf(def.network); // a bad allowlist is refused before anything starts
      maker = egress ? await egressProxyMaker() : null; // loaded before its socket can arrive
      started = await startDetachedHelper(host.helperPath, encodeSpec(buildHelperSpec(state.def, host, state.plan)), { id: def.id, timeoutMs: START_TIMEOUT_MS, egress, launcher: this.launcher });
    } catch (err) {
      this.prepared.drop(def.id);
      throw err;
    }
    const { pid: helperPid, events, marks } = started;
    // the helper's own steps, as its status lines arrived: spawned; cgroups made, user and pid namespaces cloned, id maps written ('started'); the sandbox's other namespaces and its filesystem mounted ('ready')
    if (marks.spawned) t.record('sandbox.start.helper_spawn', marks.launched, marks.spawned);
    if (marks.spawned && marks.started) t.record('sandbox.start.cgroups_namespaces', marks.spawned, marks.started);
    if (marks.started && marks.ready) t.record('sandbox.start.mounts', marks.started, marks.ready);
    const init = events.find((e) => e.type === 'started');
    const ready = events.find((e) => e.type === 'ready');
    const helperStartTime = helperPid === undefined ? null : processStartTime(helperPid);
    if (!init || !ready || helperPid === undefined || helperStartTime === null) {
      this.prepared.drop(def.id);
      throw new BkgError('HELPER_FAILED', `sandbox ${def.id} did not report its start`);
    }
    log.debug({ id: def.id, initPid: init.pid, helperPid }, 'sandbox started');
    const h: SandboxHandle = { id: def.id, initPid: init.pid, helperPid, helperStartTime, scratchFd: ready.scratch_fd ?? null };
    if (started.egress && maker) this.egress.attach(def.id, def.network, started.egress, maker);
    const files = def.secretFiles;
    if (files) await t.span('sandbox.start.secret_files', {}, () => placeSecretFiles((e, io) => this.exec(h, e, io), files)).catch(async (err: unknown) => {
      await this.stop(h);
      throw err;
    });
    return h;
  }

  /** Take over a sandbox that is already running (started by an earlier daemon): its state is built now, once. */
  adopt(def: SandboxDefinition, h: SandboxHandle): void {
    if (def.id !== h.id) throw new BkgError('INTERNAL', `cannot adopt sandbox ${h.id} with the definition of ${def.id}`);
    this.prepared.keep({ ...def, persist: true }).catch((err: unknown) => this.deps.log.warn({ err, id: h.id }, 'could not prepare an adopted sandbox; its next exec tries again'));
    if (isAllowNetwork(def.network) && !this.egress.has(h.id)) {
      // its helper still holds the egress socket (connections wait in its backlog meanwhile): serve it again
      egressProxyMaker()
        .then((maker) => takeEgressSocket(this.deps.host.helperPath, h.helperPid, EGRESS_PROXY_PORT).then((server) => this.egress.attach(h.id, def.network, server, maker)))
        .catch((err: unknown) => this.deps.log.warn({ err, id: h.id }, 'could not take over the egress socket of an adopted sandbox; it has no way out until it is restarted'));
    }
  }

  isRunning(h: SandboxHandle): boolean {
    return isRunning(h);
  }

  /** Run one command inside the running sandbox, under the state kept since its start. */
  async exec(h: SandboxHandle, exec: ExecDefinition, io: RunIO): Promise<ExecResult> {
    const { host } = this.deps;
    requireRunning(h);
    if (exec.argv.length === 0) throw new BkgError('INVALID_ARGUMENT', 'cmd: no command to run');
    const t = this.tracing;
    const t0 = epochMs();
    const { def, plan, seccomp } = await this.prepared.of(h.id);
    const spec = encodeSpec(buildExecSpec(def, exec, host, plan));
    const before = readCounters(plan.reports);
    const egressCursor = this.egress.cursor(h.id);
    const t1 = epochMs();
    t.record('sandbox.exec.prepare', t0, t1);
    // a message to the sandbox's supervisor when it serves execs; otherwise (or if it cannot be reached) a helper of its own
    const sent = def.execSocket ? await connectExec({ path: def.execSocket, spec, seccomp, stdio: io.stdio }) : null;
    const run = sent ?? spawnHelper({ helperPath: host.helperPath, spec, seccomp, stdio: io.stdio, listChanges: false, execInto: h.initPid, control: true });
    const t2 = epochMs();
    t.record('sandbox.exec.dispatch', t1, t2, { 'bkg.exec.transport': sent ? 'exec_server' : 'helper' });
    attachIO(run, io);
    const { events, code, signal } = await run.done;
    const exited = events.find((e) => e.type === 'exited');
    t.record('sandbox.exec.run', t2, epochMs(), exited?.type === 'exited' ? { 'bkg.exec.helper_duration_ms': exited.duration_ms } : {});
    // without an 'exited' line, say which way the exec went and how that ended (the next such failure names its cause)
    const noResult = sent
      ? `the sandbox's exec server took the command but ended the connection without a result${code === null ? '' : ` (exit code ${code})`}`
      : `the helper exited without a result (${signal ? `killed by ${signal}` : `exit code ${code}`})`;
    const result = execResult(def.id, events, { before, after: () => readCounters(plan.reports), diskFull: () => scratchFull(h) }, noResult);
    // refusals while the command ran (another command running at the same time in the sandbox may have caused some)
    const denied = this.egress.deniedSince(h.id, egressCursor);
    return denied.length ? { ...result, networkDenied: denied } : result;
  }

  /** The running sandbox's writable layer (its scratch tmpfs), as the host reaches it. */
  scratchOf(h: SandboxHandle): string {
    return scratchOf(h);
  }

  /**
   * The workspace changes in a writable layer (a running sandbox's, or one saved on stop), listed by
   * the helper against the host directory; without one, /workspace started empty and all it holds is added.
   */
  async changesIn(scratch: string, workspace: string | undefined): Promise<Change[]> {
    return sortChanges(changesOf(await runHelperJob(this.deps.host.helperPath, ['--changes', scratch, workspace ?? '-'], 'list the workspace changes')));
  }

  /** The running sandbox's workspace changes so far (added / modified / deleted). */
  async changes(h: SandboxHandle): Promise<Change[]> {
    const { def } = await this.prepared.of(h.id);
    return this.changesIn(this.scratchOf(h), def.workspace);
  }

  /** Copy the workspace changes of a writable layer back to the host directory. */
  async applyFrom(scratch: string, workspace: string): Promise<Change[]> {
    const changes = await this.changesIn(scratch, workspace);
    await applyChanges(`${scratch}/${UPPER_DIR}`, workspace, changes);
    return changes;
  }

  async apply(h: SandboxHandle): Promise<Change[]> {
    const { def } = await this.prepared.of(h.id);
    if (!def.workspace) throw noHostWorkspace(`sandbox ${h.id}`);
    return this.applyFrom(this.scratchOf(h), def.workspace);
  }

  /**
   * Copy a running sandbox's whole writable layer (workspace changes, /tmp, /dev/shm, HOME) to
   * `dest` on the host (which must not exist), for a later start to restore.
   */
  async save(h: SandboxHandle, dest: string): Promise<void> {
    await runHelperJob(this.deps.host.helperPath, ['--save', this.scratchOf(h), dest], `save the files of sandbox ${h.id}`);
  }

  /**
   * A snapshot of a running sandbox: its whole writable layer copied to `dest` (which must not
   * exist) while every process of it is held still (src/runtime/freeze.ts), so the copy is one moment.
   */
  async snapshot(h: SandboxHandle, dest: string): Promise<void> {
    const { def } = await this.prepared.of(h.id);
    await whileFrozen(this.deps.host.cgroups, h.id, def.limits, () => this.save(h, dest));
  }

  /**
   * Copy a saved tree (a stopped sandbox's files, a snapshot) to `dest` (which must not exist) with
   * its regular files hard-linked: safe because saved trees are never written in place (a save
   * replaces the whole tree, a start copies it into the sandbox's own tmpfs). Copies where a link is impossible.
   */
  async linkTree(src: string, dest: string): Promise<void> {
    await runHelperJob(this.deps.host.helperPath, ['--save-linked', src, dest], `copy the saved files ${src}`);
  }

  /** Remove cgroups a sandbox left behind when its helper could not (it was SIGKILLed). */
  cleanup(id: string, limits: SandboxDefinition['limits']): void {
    this.prepared.drop(id);
    void this.egress.close(id);
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

  /** Stop the sandbox: every process in it is killed, its mounts and cgroups go, its kept state too. Idempotent. */
  async stop(h: SandboxHandle): Promise<void> {
    this.prepared.drop(h.id);
    await this.egress.close(h.id);
    await this.tracing.span('sandbox.stop.helper', {}, () => stopHelper(h, STOP_TIMEOUT_MS));
  }

  /** Stop serving every sandbox's egress (the daemon stops; their helpers keep the sockets for the next one). */
  async closeEgress(): Promise<void> {
    await this.egress.closeAll();
  }

  /** What this engine runs for its own use ends (the egress proxies, the launcher); running sandboxes live on for the next daemon. */
  async close(): Promise<void> {
    this.launcher?.close();
    await this.closeEgress();
  }
}
