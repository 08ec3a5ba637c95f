import { DaemonCommand } from '../../cli/daemon-command.js';
import { renderTable } from '../../cli/format.js';

export default class PeersLs extends DaemonCommand {
  static override summary = 'List the trusted peers: connected or not, latency, the models they hold.';

  async run(): Promise<void> {
    const { flags } = await this.parse(PeersLs);
    const peers = await this.withClient((c) => c.peers());
    this.output(flags.json, { peers }, () =>
      process.stdout.write(renderTable(['PEER', 'NAME', 'CONNECTED', 'LATENCY', 'PENALTIES', 'MODELS'], peers.map((p) => [
        p.peer_id, p.name ?? '-', p.connected ? 'yes' : 'no', p.latency_ms === null ? '-' : `${p.latency_ms} ms`, String(p.penalties),
        p.models === null ? '-' : p.models.map((m) => m.id).join(', ') || '(none)',
      ]))),
    );
  }
}
