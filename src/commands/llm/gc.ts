import { DaemonCommand } from '../../cli/daemon-command.js';

export default class LlmGc extends DaemonCommand {
  static override summary = 'Remove unreferenced blobs and stale partial downloads; evict least-recently-used models over the cache cap.';

  async run(): Promise<void> {
    const { flags } = await this.parse(LlmGc);
    const r = await this.withClient((c) => c.llmGc());
    this.output(flags.json, r, () => process.stdout.write(`${JSON.stringify(r)}\n`));
  }
}
