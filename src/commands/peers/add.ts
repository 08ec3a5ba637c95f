import { Args, Flags } from '@oclif/core';
import { DaemonCommand } from '../../cli/daemon-command.js';

export default class PeersAdd extends DaemonCommand {
  static override summary = 'Trust a peer: only trusted peers may connect to this host\'s P2P node.';
  static override examples = ['<%= config.bin %> peers add /ip4/10.0.0.2/tcp/7421/p2p/12D3KooW… --name gpu-2'];
  static override args = { address: Args.string({ description: 'A multiaddr ending in /p2p/PEER_ID (`bkg peers status` on that host shows it), or a bare peer id.', required: true }) };
  static override flags = { name: Flags.string({ description: 'A name for the peer.' }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(PeersAdd);
    const p = await this.withClient((c) => c.addPeer(args.address, flags.name));
    this.output(flags.json, p, () => process.stdout.write(`Trusted ${p.peer_id}${p.connected ? ' (connected)' : ' (not connected yet)'}\n`));
  }
}
