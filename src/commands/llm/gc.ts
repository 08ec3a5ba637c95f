import { Flags } from '@oclif/core';
import { formatBytes, parseSize } from '../../api/units.js';
import { DaemonCommand } from '../../cli/daemon-command.js';

/** One line per thing removed, and what that freed. */
export function renderGc(r: { removed?: { kind: string; name: string; bytes: number }[]; freed_bytes?: number }): string {
  const removed = r.removed ?? [];
  if (!removed.length) return 'Nothing to remove.\n';
  const what: Record<string, string> = { blob: 'unreferenced blob', partial: 'stale partial download', model: 'model evicted (least recently used)' };
  return `${removed.map((x) => `removed ${what[x.kind] ?? x.kind} ${x.name} (${formatBytes(x.bytes)})`).join('\n')}\nfreed ${formatBytes(r.freed_bytes ?? 0)}\n`;
}

export default class LlmGc extends DaemonCommand {
  static override summary = 'Remove unreferenced blobs and stale partial downloads; evict least-recently-used models over the cache cap (BKG_MODEL_CACHE_MAX of the daemon, or --max).';
  static override flags = { max: Flags.string({ description: 'Cache size cap for this run, e.g. 10g.' }) };

  async run(): Promise<void> {
    const { flags } = await this.parse(LlmGc);
    const cap = flags.max === undefined ? undefined : parseSize(flags.max, '--max');
    const r = await this.withClient((c) => c.llmGc(cap));
    this.output(flags.json, r, () => process.stdout.write(renderGc(r as Parameters<typeof renderGc>[0])));
  }
}
