import { DaemonCommand } from '../../cli/daemon-command.js';

export default class PeersStatus extends DaemonCommand {
  static override summary = 'This host\'s P2P node: on or off, peer id, addresses, network key fingerprint, trusted and connected peers.';

  async run(): Promise<void> {
    const { flags } = await this.parse(PeersStatus);
    const s = await this.withClient((c) => c.peersStatus());
    this.output(flags.json, s, () => {
      const lines = [
        `P2P:         ${s.enabled ? 'on' : 'off (bkg daemon start --p2p)'}`,
        `Peer id:     ${s.peer_id ?? '- (bkg peers init)'}`,
        ...s.listen.map((a, i) => `${i === 0 ? 'Listening:  ' : '            '} ${a}`),
        `Network key: ${s.network_key_fingerprint ?? '-'}`,
        `Peers:       ${s.connected} of ${s.trusted} trusted connected`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
  }
}
