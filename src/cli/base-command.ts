/** Base for every bkg command: one place that renders errors (human or --json) and sets exit codes. */
import { Command, Flags } from '@oclif/core';
import { fromOclif, reportError } from './errors.js';
import { output } from './client.js';

export abstract class BkgCommand extends Command {
  static override baseFlags = {
    json: Flags.boolean({ description: 'Print one machine-readable JSON result on stdout.', default: false }),
  };

  /** Print a result: JSON on stdout with --json, otherwise the human rendering. */
  protected output(json: boolean, value: unknown, human: () => void): void {
    output(json, value, human);
  }

  override async catch(err: Error & { oclif?: { exit?: number } }): Promise<void> {
    if (err.oclif?.exit === 0) return;
    const ctor = this.constructor as unknown as { id?: string; strict?: boolean; args?: Record<string, { description?: string }> };
    const cmd = { id: this.id ?? ctor.id ?? '', strict: ctor.strict, args: Object.fromEntries(Object.entries(ctor.args ?? {}).map(([name, a]) => [name, { name, ...(a.description ? { description: a.description } : {}) }])) };
    const dashes = this.argv.indexOf('--');
    process.exitCode = reportError(fromOclif(err, this.config.bin, cmd, this.argv), (dashes === -1 ? this.argv : this.argv.slice(0, dashes)).includes('--json'));
  }
}
