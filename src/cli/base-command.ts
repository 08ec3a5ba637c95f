/** Base for every bkg command: one place that renders errors (human or --json) and sets exit codes. */
import { Command, Flags } from '@oclif/core';
import { BkgError, toErrorBody } from '../api/errors.js';

export abstract class BkgCommand extends Command {
  static override baseFlags = {
    json: Flags.boolean({ description: 'Print one machine-readable JSON result on stdout.', default: false }),
  };

  /** Print a result: JSON on stdout with --json, otherwise the human rendering. */
  protected output(json: boolean, value: unknown, human: () => void): void {
    if (json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    else human();
  }

  override async catch(err: Error & { oclif?: { exit?: number } }): Promise<void> {
    if (err.oclif?.exit === 0) return;
    // oclif's own parse errors (unknown flag, bad value) become INVALID_ARGUMENT
    const e = err instanceof BkgError || err.oclif?.exit === undefined ? err : new BkgError('INVALID_ARGUMENT', err.message.split('\n')[0] ?? err.message);
    const { body } = toErrorBody(e);
    if (this.argv.includes('--json')) process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
    else process.stderr.write(`bkg: ${body.error.message}\n  hint: ${body.error.hint}\n`);
    process.exitCode = e instanceof BkgError ? e.exitCode : 1;
  }
}
