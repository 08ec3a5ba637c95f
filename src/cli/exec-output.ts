/** Rendering an ExecResponse (`bkg exec`, `bkg run NAME -- CMD`): output to the matching streams, bkg's exit codes. */
import { BkgError } from '../api/errors.js';
import type { ExecResponse } from '../api/sandboxes.js';
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
  if (r.truncated) lines.push('bkg: output truncated: the daemon keeps at most 1 MiB per stream');
  return lines;
}

/** Print the result (the ExecResponse itself with --json) and return bkg's exit code for it. */
export async function renderExec(r: ExecResponse, opts: { json: boolean; cmd: readonly string[]; timeoutMs?: number }): Promise<number> {
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  } else {
    if (r.stdout) process.stdout.write(r.stdout);
    if (r.stderr) process.stderr.write(r.stderr);
    for (const line of explainExec(r, opts.cmd, opts.timeoutMs)) process.stderr.write(`${line}\n`);
  }
  return execExitCode(r);
}

/** All of stdin as text (for exec's `stdin`), capped. */
export async function readStdin(cap: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of process.stdin as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > cap) throw new BkgError('INVALID_ARGUMENT', `-i: stdin is larger than ${cap} bytes; copy big inputs in with \`bkg cp\``);
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}
