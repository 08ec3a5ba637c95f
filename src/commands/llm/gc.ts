import { Flags } from '@oclif/core';
import { parseSize } from '../../api/units.js';
import { DaemonCommand } from '../../cli/daemon-command.js';

export default class LlmGc extends DaemonCommand {
  static override summary = 'Remove unreferenced blobs and stale partial downloads; evict least-recently-used models over the cache cap (BKG_MODEL_CACHE_MAX of the daemon, or --max).';
  static override flags = { max: Flags.string({ description: 'Cache size cap for this run, e.g. 10g.' }) };

  async run(): Promise<void> {
    const { flags } = await this.parse(LlmGc);
    const cap = flags.max === undefined ? undefined : parseSize(flags.max, '--max');
    const r = await this.withClient((c) => c.llmGc(cap));
    this.output(flags.json, r, () => process.stdout.write(`${JSON.stringify(r)}\n`));
  }
}
