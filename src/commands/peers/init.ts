import { readFileSync } from 'node:fs';
import { Flags } from '@oclif/core';
import { DaemonCommand } from '../../cli/daemon-command.js';

export default class PeersInit extends DaemonCommand {
  static override summary = 'Create this host\'s P2P identity and, if it has none, the mesh\'s network key (or take the mesh\'s key).';
  static override description = 'The identity (an Ed25519 key) is stored encrypted under the master key. The network key is written to $BKG_HOME/p2p/swarm.key (0600): copy it to every host of the mesh over a channel you trust and pass it there with --network-key. Then start the daemon with `bkg daemon start --p2p`.';
  static override examples = ['<%= config.bin %> peers init', '<%= config.bin %> peers init --network-key ./swarm.key'];
  static override flags = {
    'network-key': Flags.string({ description: 'The mesh\'s swarm.key file (from the first host\'s `bkg peers init`).' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(PeersInit);
    const key = flags['network-key'] ? readFileSync(flags['network-key'], 'utf8') : undefined;
    const r = await this.withClient((c) => c.peersInit(key));
    this.output(flags.json, r, () => {
      process.stdout.write(`Peer id: ${r.peer_id}${r.identity_created ? ' (new)' : ''}\nNetwork key: fingerprint ${r.network_key_fingerprint}${r.network_key_created ? ' (new: copy $BKG_HOME/p2p/swarm.key to the other hosts)' : ''}\n`);
    });
  }
}
