import { Args } from '@oclif/core';
import { DaemonCommand } from '../../cli/daemon-command.js';

export default class PeersRm extends DaemonCommand {
  static override summary = 'Stop trusting a peer; its connections are closed.';
  static override args = { id: Args.string({ description: 'The peer id.', required: true }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(PeersRm);
    await this.withClient((c) => c.removePeer(args.id));
    this.output(flags.json, { removed: args.id }, () => process.stdout.write(`Removed ${args.id}\n`));
  }
}
