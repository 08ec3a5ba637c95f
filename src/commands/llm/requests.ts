import { DaemonCommand } from '../../cli/daemon-command.js';
import { ago, renderTable } from '../../cli/format.js';

export default class LlmRequests extends DaemonCommand {
  static override summary = 'List model-access requests (admin).';
  static override examples = ['<%= config.bin %> llm requests'];

  async run(): Promise<void> {
    const { flags } = await this.parse(LlmRequests);
    const requests = await this.withClient((c) => c.llmRequests());
    this.output(flags.json, { requests }, () =>
      process.stdout.write(renderTable(['ID', 'MODEL', 'NAMESPACE', 'STATUS', 'BY', 'CREATED'], requests.map((r) => [String(r.id), String(r.model_id), String(r.cave_namespace), String(r.status), String(r.requested_by), ago(String(r.created_at))]))),
    );
  }
}
