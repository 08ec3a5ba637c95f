import type { SandboxView } from '../api/sandboxes.js';
import { DaemonCommand } from '../cli/daemon-command.js';
import { ago, earliest, mib, renderTable, until } from '../cli/format.js';

export function renderSandboxes(list: SandboxView[], now = Date.now()): string {
  const rows = list.map((s) => {
    const used = s.usage?.memory_bytes;
    const limit = mib(s.limits.memory_mb);
    const memory = typeof used === 'number' ? `${mib(Math.ceil(used / (1024 * 1024)))}/${limit}` : limit;
    return [s.name, s.namespace, s.status, s.runtime, memory, ago(s.started_at, now), until(earliest(s.expires_at, s.idle_expires_at), now)];
  });
  return renderTable(['NAME', 'NAMESPACE', 'STATUS', 'RUNTIME', 'MEMORY', 'STARTED', 'EXPIRES'], rows);
}

export default class Ls extends DaemonCommand {
  static override summary = 'List sandboxes.';
  static override description = 'MEMORY is the limit, or use/limit while running; EXPIRES is the earlier of the timeout and the idle timeout.';
  static override examples = ['<%= config.bin %> ls', '<%= config.bin %> ls --json'];

  async run(): Promise<void> {
    const { flags } = await this.parse(Ls);
    const sandboxes = await this.withClient((c) => c.listSandboxes());
    this.output(flags.json, { sandboxes }, () => process.stdout.write(renderSandboxes(sandboxes)));
  }
}
