/** Sandbox lifecycle: validate a definition, plan its cgroups, run it through the helper, report. */
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { BkgError } from '../api/errors.js';
import type { Logger } from '../log.js';
import { planCgroups, readCgroupReport } from './cgroups.js';
import { applyChanges, changesOf, sortChanges, UPPER_DIR, type Change } from './changes.js';
import { limitsHit, type LimitHit, type SandboxDefinition } from './definition.js';
import { helperFailure } from './errors-from-helper.js';
import { attachIO, type RunIO } from './io.js';
import { spawnHelper, type ErrorEvent, type ExitedEvent } from './helper-process.js';
import type { HostInfo } from './host.js';
import { SeccompPrograms } from './seccomp/programs.js';
import type { SeccompProfile } from './seccomp/profile.js';
import { buildHelperSpec, encodeSpec } from './spec.js';

export type { RunIO } from './io.js';

export interface RunOptions {
  /** A user seccomp profile (OCI format); the default profile otherwise. */
  seccomp?: SeccompProfile;
  /** Copy the workspace changes back to the host directory after the command. */
  apply?: boolean;
}

export interface RunResult {
  id: string;
  exitCode: number | null;
  signal: number | null;
  timedOut: boolean;
  oomKilled: boolean;
  durationMs: number;
  peakMemoryBytes: number | null;
  /** The limits the command ran into. */
  limitsHit: LimitHit[];
  changes: Change[];
  applied: boolean;
  /** Why the command could not be started (e.g. not found), when it could not. */
  execError?: string;
}

export function newSandboxId(): string {
  return randomBytes(6).toString('hex');
}

export function validateWorkspace(dir: string): string {
  const abs = resolve(dir);
  if (abs === '/') throw new BkgError('WORKSPACE_INVALID', '--workspace: / cannot be a workspace');
  const st = statSync(abs, { throwIfNoEntry: false });
  if (!st?.isDirectory()) throw new BkgError('WORKSPACE_INVALID', `--workspace: ${abs} is not an existing directory`);
  return abs;
}


export class SandboxRuntime {
  private readonly programs = new SeccompPrograms();

  constructor(private readonly deps: { host: HostInfo; log: Logger }) {}

  async run(def: SandboxDefinition, io: RunIO, opts: RunOptions = {}): Promise<RunResult> {
    const { host, log } = this.deps;
    if (process.platform !== 'linux') throw new BkgError('ISOLATION_UNAVAILABLE', 'bkg sandboxes need Linux');
    if (process.arch !== 'x64') throw new BkgError('UNSUPPORTED_ARCH', `unsupported architecture ${process.arch}`);
    if (def.argv.length === 0) throw new BkgError('INVALID_ARGUMENT', 'no command to run');
    const workspace = def.workspace ? validateWorkspace(def.workspace) : undefined;
    const sandbox: SandboxDefinition = { ...def, workspace };
    const plan = planCgroups(host.cgroups, def.id, def.limits);
    const spec = encodeSpec(buildHelperSpec(sandbox, host, plan));
    const seccomp = await this.programs.program(opts.seccomp ?? def.seccomp, def.allowNestedNamespaces === true);
    log.debug({ id: def.id, argv: def.argv, limits: def.limits }, 'sandbox run');

    const run = spawnHelper({ helperPath: host.helperPath, spec, seccomp, stdio: io.stdio, listChanges: workspace !== undefined });
    let applied = false;
    run.onExited(async (scratch) => {
      if (!opts.apply || !workspace || !scratch) return;
      const changes = changesOf(run.events());
      await applyChanges(`${scratch}/${UPPER_DIR}`, workspace, changes);
      applied = true;
    });
    attachIO(run, io);
    const { events } = await run.done;

    const exited = events.find((e): e is ExitedEvent => e.type === 'exited');
    const errors = events.filter((e): e is ErrorEvent => e.type === 'error');
    const execError = errors.find((e) => e.stage === 'exec');
    if (!exited) {
      const first = errors.find((e) => e.stage !== 'exec') ?? execError;
      if (first) throw helperFailure(first);
      throw new BkgError('HELPER_FAILED', 'the sandbox helper exited without a result');
    }
    const setupError = errors.find((e) => e.stage !== 'exec' && e.stage !== 'changes');
    if (setupError && exited.exit_code === 125) throw helperFailure(setupError);
    const report = readCgroupReport(exited.files);
    const oomKilled = report.oomKills > 0 && !exited.timed_out;
    return {
      id: def.id,
      exitCode: exited.exit_code,
      signal: exited.signal,
      timedOut: exited.timed_out,
      oomKilled,
      durationMs: exited.duration_ms,
      peakMemoryBytes: report.peakMemoryBytes,
      limitsHit: limitsHit({ oomKilled, timedOut: exited.timed_out, pidsRefused: report.pidsRefusals > 0, diskFull: exited.disk_full === true }),
      changes: sortChanges(changesOf(events)),
      applied,
      ...(execError ? { execError: execError.message } : {}),
    };
  }
}
