/** `bkg run`: flags → sandbox definition → run → render. */
import { BkgError } from '../api/errors.js';
import { formatBytes, parseDuration } from '../api/units.js';
import { newSandboxId, type SandboxDefinition } from '../runtime/definition.js';
import type { RunResult } from '../runtime/engine.js';
import { settingsFromRequest } from '../runtime/from-request.js';
import { loadRuntime, runtimeCommand } from '../runtime/runtimes.js';
import type { CliContext } from './context.js';
import { exitCodeOf } from './exit-codes.js';
import { explainDenied, explainLimits } from './exec-output.js';
import { requestFromFlags } from './sandbox-request.js';

export { EXIT_OOM, EXIT_TIMEOUT, exitCodeOf } from './exit-codes.js';

export const OUTPUT_CAP = 1024 * 1024;

export interface RunFlags {
  runtime?: string;
  memory?: string;
  cpus?: string;
  pids?: string;
  disk?: string;
  timeout?: string;
  network?: string;
  workspace?: string;
  apply?: boolean;
  env?: string[];
  secret?: string[];
  seccomp?: string;
  'allow-nested-namespaces'?: boolean;
  json?: boolean;
  cmd: string[];
}


/**
 * The throwaway sandbox of `bkg run --rm`: the flags become a create request (sandbox-request.ts)
 * and that a definition, through the same conversion the daemon uses; --timeout is the command's
 * deadline here (any duration), not a persistent sandbox's lifetime in whole seconds. A --seccomp
 * profile is read with the profile parser, which loads only then (a start without one skips it).
 */
export async function definitionFromFlags(flags: RunFlags): Promise<SandboxDefinition> {
  const runtime = flags.runtime === undefined && flags.cmd.length === 0 ? 'shell' : flags.runtime;
  const template = runtime === undefined ? undefined : loadRuntime(runtime);
  const argv = template ? runtimeCommand(template, flags.cmd) : flags.cmd;
  if (flags.apply && !flags.workspace) throw new BkgError('INVALID_ARGUMENT', '--apply needs --workspace');
  if (flags.secret?.length) {
    throw new BkgError('INVALID_ARGUMENT', '--secret does not apply to a throwaway sandbox (bkg run --rm): secrets are held by the daemon, and this sandbox runs without it', {
      hint: 'Add a sandbox that gets them (`bkg add NAME --secret S`, or `secrets:` in cave.yaml) and run it through the daemon: `bkg run NAME -- CMD`.', details: { flag: '--secret' },
    });
  }
  const req = requestFromFlags(flags, { timeout: false });
  const settings = settingsFromRequest(req);
  const timeoutMs = flags.timeout === undefined ? undefined : parseDuration(flags.timeout, '--timeout');
  const seccomp = req.seccomp ? (await import('../runtime/seccomp/profile.js')).loadSeccompProfileFile(req.seccomp) : undefined;
  return {
    id: newSandboxId(),
    argv,
    env: { ...(template?.env ?? {}), ...req.env },
    ...settings,
    limits: { ...settings.limits, ...(timeoutMs === undefined ? {} : { timeoutMs }) },
    ...(req.workspace ? { workspace: req.workspace } : {}),
    ...(seccomp ? { seccomp } : {}),
  };
}

function capture(): { push: (c: Buffer) => void; text: () => string; truncated: () => boolean } {
  const chunks: Buffer[] = [];
  let size = 0;
  let cut = false;
  return {
    push(c) {
      if (size >= OUTPUT_CAP) {
        cut = true;
        return;
      }
      const part = c.subarray(0, OUTPUT_CAP - size);
      if (part.length < c.length) cut = true;
      chunks.push(part);
      size += part.length;
    },
    text: () => Buffer.concat(chunks).toString('utf8'),
    truncated: () => cut,
  };
}

function explain(r: RunResult, def: SandboxDefinition): string[] {
  const lines: string[] = [];
  if (r.execError) lines.push(`bkg: cannot run ${def.argv[0]}: ${r.execError.replace(/^[^:]*: /, '')}`);
  if (r.timedOut) lines.push(`bkg: timed out after ${def.limits.timeoutMs} ms; every process of the sandbox was killed`);
  if (r.oomKilled) lines.push(`bkg: out of memory: a process exceeded the ${formatBytes(def.limits.memoryBytes ?? 0)} limit and was killed`);
  lines.push(...explainLimits(r.limitsHit, def.limits));
  lines.push(...explainDenied(r.networkDenied));
  if (r.changes.length && !r.applied) lines.push(`bkg: ${r.changes.length} workspace change(s) discarded (use --apply to keep them)`);
  if (r.applied) lines.push(`bkg: applied ${r.changes.length} workspace change(s) to ${def.workspace}`);
  return lines;
}

export async function runSandboxCommand(ctx: CliContext, flags: RunFlags): Promise<number> {
  if (flags.cmd.length === 0) {
    const { wantsInteractiveShell, runInteractiveShell } = await import('./run-shell.js');
    if (wantsInteractiveShell(flags)) return runInteractiveShell(ctx, flags);
  }
  const def = await definitionFromFlags(flags);
  const opts = { apply: flags.apply === true };
  if (!flags.json) {
    // this process only waits for the sandbox: the engine may block on it (one spawnSync, no event loop)
    const r = await ctx.runtime.run(def, { stdio: ['inherit', 'inherit', 'inherit'] }, { ...opts, block: true });
    for (const line of explain(r, def)) process.stderr.write(`${line}\n`);
    return exitCodeOf(r);
  }
  const out = capture();
  const err = capture();
  const r = await ctx.runtime.run(def, { stdio: ['inherit', 'pipe', 'pipe'], onStdout: out.push, onStderr: err.push }, opts);
  const code = exitCodeOf(r);
  const body = {
    id: r.id,
    exit_code: r.exitCode,
    signal: r.signal,
    bkg_exit_code: code,
    timed_out: r.timedOut,
    oom_killed: r.oomKilled,
    limits_hit: r.limitsHit,
    ...(r.networkDenied ? { network_denied: r.networkDenied.map((d) => ({ code: 'NETWORK_DENIED', ...d })) } : {}),
    duration_ms: r.durationMs,
    peak_memory_bytes: r.peakMemoryBytes,
    stdout: out.text(),
    stderr: err.text(),
    stdout_truncated: out.truncated(),
    stderr_truncated: err.truncated(),
    changes: r.changes,
    applied: r.applied,
    ...(r.execError ? { exec_error: r.execError } : {}),
  };
  process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
  return code;
}
