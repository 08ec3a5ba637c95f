import { Args } from '@oclif/core';
import { DaemonCommand } from '../../cli/daemon-command.js';

export default class SnapshotRm extends DaemonCommand {
  static override summary = 'Delete a snapshot and its files (sandboxes started from it keep theirs).';
  static override examples = ['<%= config.bin %> snapshot rm web:before-upgrade', '<%= config.bin %> snapshot rm snap_3kF9q2ZxP0aB7cLm'];
  static override args = { ref: Args.string({ description: 'The snapshot: its id, or SANDBOX:TAG.', required: true }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(SnapshotRm);
    await this.withClient((c) => c.removeSnapshot(args.ref));
    this.output(flags.json, { removed: args.ref }, () => process.stderr.write(`Removed snapshot ${args.ref}.\n`));
  }
}
