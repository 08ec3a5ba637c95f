import { Flags } from '@oclif/core';
import { DaemonCommand } from '../../cli/daemon-command.js';
import { renderSnapshots } from '../../cli/snapshots.js';

export default class SnapshotLs extends DaemonCommand {
  static override summary = 'List snapshots: id, sandbox, tag, size, age.';
  static override examples = ['<%= config.bin %> snapshot ls', '<%= config.bin %> snapshot ls --namespace ci --json'];
  static override flags = {
    namespace: Flags.string({ char: 'n', description: 'Admin keys: only this namespace\'s (default: every namespace\'s). Other keys see their own.' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(SnapshotLs);
    const snapshots = await this.withClient((c) => c.listSnapshots(flags.namespace));
    this.output(flags.json, { snapshots }, () => process.stdout.write(renderSnapshots(snapshots)));
  }
}
