/**
 * `bkg exec NAME -- CMD` (and `bkg run NAME -- CMD`): the command's output streamed live over the
 * daemon's WebSocket, with no size cap; stdin forwarded with -i; Ctrl-C, SIGTERM and SIGHUP of the
 * CLI delivered to the command in the sandbox (a second Ctrl-C ends it at once), so its exit code
 * says what happened (130 after Ctrl-C). With --json the output is collected into one result.
 */
import { Writable } from 'node:stream';
import { BkgError } from '../api/errors.js';
import { parseDuration } from '../api/units.js';
import { parseEnv } from './env-flags.js';
import type { SignalName } from '../api/exec-stream.js';
import type { ExecResponse } from '../api/sandboxes.js';
import type { DaemonClient } from '../client/daemon-client.js';
import { openExecStreamStarting, type StreamExit } from '../client/exec-stream.js';
import { exitCodeOf } from './exit-codes.js';
import { explainExec } from './exec-output.js';

export interface ExecInput {
  name: string;
  cmd: string[];
  env?: Record<string, string> | undefined;
  cwd?: string | undefined;
  timeoutMs?: number | undefined;
  /** Forward stdin (-i). */
  interactive?: boolean;
  /** Collect the output into one JSON result instead of streaming it. */
  json?: boolean;
}

/** The result of a streamed exec in the REST exec's shape (never truncated). */
export type StreamedExecResult = ExecResponse;

const FORWARDED: [NodeJS.Signals, SignalName][] = [['SIGINT', 'INT'], ['SIGTERM', 'TERM'], ['SIGHUP', 'HUP']];

function collector(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

/** Run the command; returns bkg's exit code and (with json) the collected result. */
export async function streamedExec(client: DaemonClient, input: ExecInput): Promise<{ exitCode: number; result: StreamedExecResult }> {
  const out = input.json ? collector() : null;
  const err = input.json ? collector() : null;
  const stream = await openExecStreamStarting(client, input.name, {
    cmd: input.cmd, ...(input.env ? { env: input.env } : {}), ...(input.cwd ? { cwd: input.cwd } : {}), ...(input.timeoutMs ? { timeoutMs: input.timeoutMs } : {}),
  }, { stdin: input.interactive ? process.stdin : null, stdout: out?.stream ?? process.stdout, stderr: err?.stream ?? process.stderr });
  let signalled = 0;
  const handlers = FORWARDED.map(([sig, name]) => {
    const h = (): void => {
      signalled++;
      stream.signal(sig === 'SIGINT' && signalled > 1 ? 'KILL' : name); // a second Ctrl-C: now
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  const onPipe = (e: NodeJS.ErrnoException): void => {
    if (e.code === 'EPIPE') stream.signal('KILL'); // nobody reads our output any more
  };
  process.stdout.on('error', onPipe);
  let exit: StreamExit;
  try {
    exit = await stream.done;
  } finally {
    for (const [sig, h] of handlers) process.off(sig, h);
    process.stdout.off('error', onPipe);
  }
  const result: StreamedExecResult = {
    exit_code: exit.exit_code, signal: exit.signal, timed_out: exit.timed_out, oom_killed: exit.oom_killed, duration_ms: exit.duration_ms,
    stdout: out?.text() ?? '', stderr: err?.text() ?? '', truncated: false, limits_hit: exit.limits_hit ?? [],
    ...(exit.exec_error ? { exec_error: exit.exec_error } : {}),
  };
  return { exitCode: exitCodeOf({ exitCode: exit.exit_code, signal: exit.signal, timedOut: exit.timed_out, oomKilled: exit.oom_killed }), result };
}

/** `bkg exec` without -t: stream, then explain on stderr (or print the JSON result). */
export async function execCommand(client: DaemonClient, input: ExecInput): Promise<number> {
  const { exitCode, result } = await streamedExec(client, input);
  if (input.json) process.stdout.write(`${JSON.stringify({ ...result, bkg_exit_code: exitCode }, null, 2)}\n`);
  else for (const line of explainExec(result, input.cmd, input.timeoutMs)) process.stderr.write(`${line}\n`);
  return exitCode;
}

/** `bkg exec NAME [flags] -- CMD` from parsed arguments (the fast path and the oclif command alike). */
export async function execFromArgs(p: { args: Record<string, string | undefined>; flags: Record<string, unknown>; argv: string[] }): Promise<number> {
  const name = p.args.name as string;
  const cmd = p.argv.slice(1);
  if (cmd.length === 0) throw new BkgError('INVALID_ARGUMENT', 'give the command to run after --, as in `bkg exec NAME -- ls -la`', { hint: `\`bkg exec ${name} -- CMD [ARGS...]\`; \`bkg shell ${name}\` opens a shell.` });
  const cwd = typeof p.flags.cwd === 'string' ? p.flags.cwd : undefined;
  if (cwd !== undefined && !cwd.startsWith('/')) throw new BkgError('INVALID_ARGUMENT', `--cwd: "${cwd}" must be an absolute path inside the sandbox`);
  const timeoutMs = typeof p.flags.timeout === 'string' ? parseDuration(p.flags.timeout, '--timeout') : undefined;
  const env = Array.isArray(p.flags.env) && p.flags.env.length ? parseEnv(p.flags.env as string[]) : undefined;
  const json = p.flags.json === true;
  const { withDaemonClient } = await import('./client.js');
  if (p.flags.tty === true) {
    if (json) throw new BkgError('INVALID_ARGUMENT', '--tty streams to your terminal; it cannot be combined with --json');
    const { terminalExec } = await import('./terminal-exec.js');
    return withDaemonClient((c) => terminalExec(c, name, { cmd, env: { TERM: process.env.TERM || 'xterm-256color', ...env }, ...(cwd ? { cwd } : {}), ...(timeoutMs ? { timeoutMs } : {}) }));
  }
  return withDaemonClient((c) => execCommand(c, { name, cmd, env, cwd, timeoutMs, interactive: p.flags.interactive === true, json }));
}
