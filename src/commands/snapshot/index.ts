import { Args, Flags } from '@oclif/core';
import { DaemonCommand } from '../../cli/daemon-command.js';
import { renderSnapshotTaken } from '../../cli/snapshots.js';

export default class Snapshot extends DaemonCommand {
  static override summary = 'Save a sandbox\'s files (its workspace and other writable state) as a snapshot, running or stopped.';
  static override description = `A running sandbox is held still while its writable layer is copied, so the snapshot is one moment of it; a stopped one's saved files are hard-linked. Snapshots belong to the namespace and outlive the sandbox: \`bkg run --from ID|NAME:TAG\` and \`bkg fork\` start new sandboxes from them, \`bkg snapshot ls\` lists them, \`bkg snapshot rm\` deletes them.`;
  static override examples = ['<%= config.bin %> snapshot web --tag before-upgrade', '<%= config.bin %> snapshot web --json'];
  static override args = { name: Args.string({ description: 'The sandbox (name or id).', required: true }) };
  static override flags = {
    tag: Flags.string({ char: 't', description: 'Name the snapshot SANDBOX:TAG (letters, digits, . _ -).' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Snapshot);
    const snap = await this.withClient((c) => c.snapshotSandbox(args.name, flags.tag));
    this.output(flags.json, snap, () => process.stdout.write(renderSnapshotTaken(snap)));
  }
}
