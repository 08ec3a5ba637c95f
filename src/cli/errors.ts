/**
 * How the CLI reports an error, on every path (oclif's and the fast one): `bkg: MESSAGE` and
 * `  hint: HINT` on stderr, or the error body as JSON on stdout with --json; the exit code from the
 * error registry. Messages are printed whole, never cut to their first line.
 */
import { BkgError, exitCodeFor, toErrorBody } from '../api/errors.js';

export interface CommandInfo {
  id: string;
  strict?: boolean;
  args: Record<string, { name: string; description?: string }>;
}

const usage = (bin: string, cmd: CommandInfo): string => `${bin} ${cmd.id.replace(/:/g, ' ')}`;

/** Commands whose positionals end in a command to run: their stray flags most likely belong to it. */
const TAKES_COMMAND: Record<string, number> = { run: 0, exec: 1 };

/** An unknown flag; for run and exec, the likely slip of a command's own flag without `--` before it. */
export function unknownFlag(bin: string, cmd: CommandInfo, flag: string, raw: readonly string[]): BkgError {
  const skip = TAKES_COMMAND[cmd.id];
  if (skip !== undefined && !raw.includes('--')) {
    let seen = 0;
    const at = raw.findIndex((w) => !w.startsWith('-') && seen++ === skip);
    if (at !== -1) {
      const fixed = [...raw.slice(0, at), '--', ...raw.slice(at)].join(' ');
      return new BkgError('INVALID_ARGUMENT', `unknown flag ${flag} for ${usage(bin, cmd)}`, {
        hint: `The command to run and its own flags go after \`--\`: \`${usage(bin, cmd)} ${fixed}\`.`,
        details: { flag },
      });
    }
  }
  return new BkgError('INVALID_ARGUMENT', `unknown flag ${flag} for ${usage(bin, cmd)}`, { hint: `\`${usage(bin, cmd)} --help\` lists its flags.`, details: { flag } });
}

export function missingArgument(bin: string, cmd: CommandInfo, arg: { name: string; description?: string }): BkgError {
  const takesCommand = TAKES_COMMAND[cmd.id] !== undefined;
  const names = Object.values(cmd.args).filter((a) => !(takesCommand && a.name === 'cmd')).map((a) => a.name.toUpperCase());
  return new BkgError('INVALID_ARGUMENT', `missing ${arg.name.toUpperCase()}${arg.description ? ` (${arg.description.replace(/\.$/, '')})` : ''}`, {
    hint: `Usage: \`${usage(bin, cmd)} ${names.join(' ')}${takesCommand ? ' -- CMD...' : ''}\`; \`${usage(bin, cmd)} --help\` says more.`,
    details: { argument: arg.name },
  });
}

interface OclifError extends Error {
  oclif?: { exit?: number };
  args?: { name: string; description?: string }[];
  flags?: string[];
}

/** oclif's parse errors in bkg's words (INVALID_ARGUMENT, the whole message); anything else as it is. */
export function fromOclif(err: unknown, bin: string, cmd: CommandInfo | undefined, raw: readonly string[]): unknown {
  if (err instanceof BkgError) return err;
  const e = err as OclifError;
  if (e?.oclif?.exit === undefined) return err;
  if (cmd && e.name === 'NonExistentFlagsError' && e.flags?.[0]) return unknownFlag(bin, cmd, e.flags[0], raw);
  if (cmd && e.name === 'RequiredArgsError' && e.args?.[0]) return missingArgument(bin, cmd, e.args[0]);
  const needsValue = /^Flag (--[\w-]+) expects a value/.exec(e.message);
  if (cmd && needsValue) return new BkgError('INVALID_ARGUMENT', `${needsValue[1] as string} needs a value`, { hint: `\`${usage(bin, cmd)} --help\` says what it takes.` });
  const message = e.message.replace(/\n\s*See more help with --help\s*$/, '').split('\n').map((l) => l.trim()).filter(Boolean).join('; ');
  return new BkgError('INVALID_ARGUMENT', message.replace(/^The following errors? occurred:;\s*/, ''), cmd ? { hint: `\`${usage(bin, cmd)} --help\` says how to use it.` } : {});
}

/** Print an error as the CLI does and return its exit code. */
export function reportError(err: unknown, json: boolean): number {
  const { body } = toErrorBody(err);
  if (json) process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
  else process.stderr.write(`bkg: ${body.error.message}\n  hint: ${body.error.hint}\n`);
  return exitCodeFor(err);
}
