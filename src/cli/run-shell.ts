/**
 * `bkg run` with no command on a terminal: a throwaway sandbox with an interactive shell on a real
 * terminal (its own pty inside, window size followed), removed when the shell exits. Built from the
 * persistent-sandbox mechanism: the sandbox starts, the shell is exec'd into it with a terminal,
 * and the sandbox ends with this process whatever happens.
 */
import { runtimeCommand, loadRuntime } from '../runtime/runtimes.js';
import type { CliContext } from './context.js';
import { exitCodeOf } from './exit-codes.js';
import { renderChanges } from './format.js';
import { definitionFromFlags, type RunFlags } from './run-sandbox.js';
import { INTERACTIVE_SHELL, onRawTerminal } from './terminal-exec.js';

/** Whether `bkg run` should open an interactive shell: no command, the shell runtime, a terminal both ways. */
export function wantsInteractiveShell(flags: RunFlags): boolean {
  return flags.cmd.length === 0 && (flags.runtime === undefined || flags.runtime === 'shell') && !flags.json && process.stdin.isTTY === true && process.stdout.isTTY === true;
}

export async function runInteractiveShell(ctx: CliContext, flags: RunFlags): Promise<number> {
  runtimeCommand(loadRuntime('shell'), []); // the host has a shell to offer
  const def = { ...(await definitionFromFlags({ ...flags, cmd: ['sh'] })), persist: true, dieWithParent: true };
  const sandboxes = ctx.runtime;
  const h = await sandboxes.start(def);
  try {
    const code = await onRawTerminal(async (size) => {
      let onResize: (() => void) | null = null;
      try {
        const r = await sandboxes.exec(h, { argv: INTERACTIVE_SHELL, tty: size(), env: { TERM: process.env.TERM || 'xterm-256color' } }, {
          stdio: ['inherit', 'inherit', 'inherit'],
          onStarted: (ctl) => {
            onResize = () => ctl.resize(size().rows, size().cols);
            process.stdout.on('resize', onResize);
          },
        });
        return exitCodeOf(r);
      } finally {
        if (onResize) process.stdout.off('resize', onResize);
      }
    });
    if (def.workspace) {
      const changes = flags.apply ? await sandboxes.apply(h) : await sandboxes.changes(h);
      if (changes.length) process.stderr.write(`${renderChanges(changes)}bkg: ${changes.length} workspace change(s) ${flags.apply ? `applied to ${def.workspace}` : 'discarded (use --apply to keep them)'}\n`);
    }
    return code;
  } finally {
    await sandboxes.stop(h);
  }
}
