import { DaemonCommand } from '../../cli/daemon-command.js';
import { ago, renderTable } from '../../cli/format.js';
import type { ApiKeyView } from '../../client/types.js';

export function renderKeys(keys: ApiKeyView[], now = Date.now()): string {
  const rows = keys.map((k) => [k.id, k.name, k.role, k.namespace ?? '-', k.masked, ago(k.created_at, now), ago(k.last_used_at, now), k.revoked_at ? ago(k.revoked_at, now) : '-']);
  return renderTable(['ID', 'NAME', 'ROLE', 'NAMESPACE', 'KEY', 'CREATED', 'LAST USED', 'REVOKED'], rows);
}

export default class KeyLs extends DaemonCommand {
  static override summary = 'List API keys (masked; secrets are never shown again).';
  static override examples = ['<%= config.bin %> key ls', '<%= config.bin %> key ls --json'];

  async run(): Promise<void> {
    const { flags } = await this.parse(KeyLs);
    const keys = await this.withClient((c) => c.listKeys());
    this.output(flags.json, { keys }, () => process.stdout.write(renderKeys(keys)));
  }
}
