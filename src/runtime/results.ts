/** The verdict of a throwaway run or of an exec, from the helper's status events and the cgroup counters. */
import { readFileSync } from 'node:fs';
import { BkgError } from '../api/errors.js';
import { readCgroupReport } from './cgroups.js';
import { sortChanges, changesOf, type Change } from './changes.js';
import { limitsHit, type LimitHit } from './definition.js';
import { helperFailure } from './errors-from-helper.js';
import type { EgressDenial } from './egress/proxy.js';
import type { ErrorEvent, ExitedEvent, HelperEvent } from './helper-events.js';
import type { SeccompProfile } from './seccomp/profile.js';

export interface RunOptions {
  /** A user seccomp profile (OCI format); the default profile otherwise. */
  seccomp?: SeccompProfile;
  /** Copy the workspace changes back to the host directory after the command. */
  apply?: boolean;
  /**
   * Wait for the helper in one blocking call (runHelperBlocking), for a caller with nothing else
   * to do meanwhile (the CLI's throwaway run). Taken only where it can be: the command's stdio is
   * this process's own, nothing needs the helper while it runs (no --apply, no allowlist, no
   * onStarted controls, no input to write) and unnamed files can be made; otherwise the evented run.
   */
  block?: boolean;
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
  /** Connections the sandbox's egress proxy refused while the command ran (an allowlisted network only; absent when none). */
  networkDenied?: EgressDenial[];
}

export type ExecResult = Omit<RunResult, 'changes' | 'applied'>;

type CgroupReport = ReturnType<typeof readCgroupReport>;

function split(events: HelperEvent[]): { exited: ExitedEvent | undefined; errors: ErrorEvent[]; execError: ErrorEvent | undefined } {
  const errors = events.filter((e): e is ErrorEvent => e.type === 'error');
  return { exited: events.find((e): e is ExitedEvent => e.type === 'exited'), errors, execError: errors.find((e) => e.stage === 'exec') };
}

/** A throwaway run: its sandbox's cgroups were read back by the helper before they went. */
export function runResult(id: string, events: HelperEvent[], applied: boolean): RunResult {
  const { exited, errors, execError } = split(events);
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
    ...verdictOf(id, exited, execError, { oomKilled, peakMemoryBytes: report.peakMemoryBytes, pidsRefused: report.pidsRefusals > 0, diskFull: exited.disk_full === true }),
    changes: sortChanges(changesOf(events)),
    applied,
  };
}

/** An exec: the sandbox's cgroups live on, so what this command did is the difference of their counters. */
export function execResult(id: string, events: HelperEvent[], counters: { before: CgroupReport; after: () => CgroupReport; diskFull: () => boolean }, noResult = 'the helper exited without a result'): ExecResult {
  const { exited, errors, execError } = split(events);
  if (!exited) throw helperFailure(errors.find((e) => e.stage !== 'exec') ?? execError ?? { type: 'error', stage: 'exec', errno: 0, message: noResult });
  const { before } = counters;
  const after = counters.after();
  const oomKilled = after.oomKills > before.oomKills;
  return verdictOf(id, exited, execError, { oomKilled, peakMemoryBytes: after.peakMemoryBytes, pidsRefused: after.pidsRefusals > before.pidsRefusals, diskFull: counters.diskFull() });
}

/** What a run and an exec both report: how the command ended and the limits it ran into. */
function verdictOf(id: string, exited: ExitedEvent, execError: ErrorEvent | undefined, seen: { oomKilled: boolean; peakMemoryBytes: number | null; pidsRefused: boolean; diskFull: boolean }): ExecResult {
  return {
    id,
    exitCode: exited.exit_code,
    signal: exited.signal,
    timedOut: exited.timed_out,
    oomKilled: seen.oomKilled,
    durationMs: exited.duration_ms,
    peakMemoryBytes: seen.peakMemoryBytes,
    limitsHit: limitsHit({ oomKilled: seen.oomKilled, timedOut: exited.timed_out, pidsRefused: seen.pidsRefused, diskFull: seen.diskFull }),
    ...(execError ? { execError: execError.message } : {}),
  };
}

/** The current counters of a live sandbox's cgroups (the plan's report files). */
export function readCounters(files: Record<string, string>): CgroupReport {
  const out: Record<string, string | null> = {};
  for (const [name, path] of Object.entries(files)) {
    try {
      out[name] = readFileSync(path, 'utf8');
    } catch {
      out[name] = null;
    }
  }
  return readCgroupReport(out);
}
