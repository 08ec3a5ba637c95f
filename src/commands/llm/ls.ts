import { DaemonCommand } from '../../cli/daemon-command.js';
import { ago, renderTable } from '../../cli/format.js';

export default class LlmLs extends DaemonCommand {
  static override summary = 'List cached models.';

  async run(): Promise<void> {
    const { flags } = await this.parse(LlmLs);
    const models = await this.withClient((c) => c.llmModels());
    this.output(flags.json, { models }, () =>
      process.stdout.write(renderTable(['ID', 'SIZE', 'SHA256', 'SIGNED BY', 'LAST USED'], models.map((m) => [String(m.id), `${Math.round(Number(m.size_bytes) / 1024)} KiB`, String(m.sha256).slice(0, 12), String(m.signed_by ?? '-'), ago(m.last_used_at === null ? null : String(m.last_used_at))]))),
    );
  }
}
