/** Rendering an ExecResponse (`bkg exec`, `bkg run NAME -- CMD`): output to the matching streams, bkg's exit codes. */
import type { ExecResponse } from '../api/sandboxes.js';
import { formatBytes } from '../api/units.js';
import { exitCodeOf } from './exit-codes.js';

/**
 * The exit code bkg reports for an exec: the command's own, 128+N when killed by signal N, 124 on
 * timeout, 125 when out of memory (exit-codes.ts).
 */
export function execExitCode(r: ExecResponse): number {
  return exitCodeOf({ exitCode: r.exit_code, signal: r.signal, timedOut: r.timed_out, oomKilled: r.oom_killed });
}

/** Why the command ended as it did, for stderr. */
export function explainExec(r: ExecResponse, cmd: readonly string[], timeoutMs?: number): string[] {
  const lines: string[] = [];
  if (r.exec_error) lines.push(`bkg: cannot run ${cmd[0] ?? 'the command'}: ${r.exec_error.replace(/^[^:]*: /, '')}`);
  if (r.timed_out) lines.push(`bkg: timed out${timeoutMs ? ` after ${timeoutMs} ms` : ''}; the command was killed`);
  if (r.oom_killed) lines.push('bkg: out of memory: a process exceeded the sandbox\'s memory limit and was killed');
  lines.push(...explainLimits(r.limits_hit ?? []));
  lines.push(...explainDenied(r.network_denied));
  if (r.truncated) lines.push('bkg: output truncated: the daemon keeps at most 1 MiB per stream');
  return lines;
}

/** What the pids and disk limits did (memory and time have lines of their own). */
export function explainLimits(hit: readonly string[], limits: { pids?: number | undefined; diskBytes?: number | undefined } = {}): string[] {
  const lines: string[] = [];
  if (hit.includes('pids')) lines.push(`bkg: hit the pids limit${limits.pids ? ` (${limits.pids})` : ''}: a process could not be created (raise it with --pids)`);
  if (hit.includes('disk')) lines.push(`bkg: the writable space${limits.diskBytes ? ` (${formatBytes(limits.diskBytes)})` : ''} is full: writes failed with "No space left on device" (raise it with --disk)`);
  return lines;
}

/** The connections the sandbox's egress proxy refused (NETWORK_DENIED), one line each. */
export function explainDenied(denied: readonly { host: string; port: number; message: string; count: number }[] = []): string[] {
  return denied.map((d) => `bkg: NETWORK_DENIED: ${d.host.includes(':') ? `[${d.host}]` : d.host}:${d.port}: ${d.message}${d.count > 1 ? ` (${d.count} times)` : ''}`);
}
