/** `bkg ls`, `start`, `stop`, `rm`: thin actions over the daemon client, shared by the oclif commands and the fast path. */
import { existsSync } from 'node:fs';
import { BkgError } from '../api/errors.js';
import type { SandboxView } from '../api/sandboxes.js';
import type { DaemonClient } from '../client/daemon-client.js';
import { output } from './client.js';
import { ago, earliest, mib, plural, renderChanges, renderTable, until } from './format.js';

/** The table of `bkg ls`; with `hosts` (--all-hosts), a HOST column naming each sandbox's host (`?` marks one not answering). */
export function renderSandboxes(list: SandboxView[], now = Date.now(), hosts?: readonly { id: string; name: string; alive: boolean }[]): string {
  const hostOf = (id: string): string => {
    const h = hosts?.find((x) => x.id === id);
    return h ? `${h.name}${h.alive ? '' : '?'}` : id;
  };
  const rows = list.map((s) => {
    const used = s.usage?.memory_bytes;
    const limit = mib(s.limits.memory_mb);
    const memory = typeof used === 'number' ? `${mib(Math.ceil(used / (1024 * 1024)))}/${limit}` : limit;
    return [s.name, ...(hosts ? [hostOf(s.host)] : []), s.namespace, s.status, s.runtime, memory, ago(s.started_at, now), until(earliest(s.expires_at, s.idle_expires_at), now)];
  });
  return renderTable(['NAME', ...(hosts ? ['HOST'] : []), 'NAMESPACE', 'STATUS', 'RUNTIME', 'MEMORY', 'STARTED', 'EXPIRES'], rows);
}

export async function lsCommand(client: DaemonClient, json: boolean, allHosts = false): Promise<number> {
  if (allHosts) {
    const r = await client.listAllHosts();
    output(json, r, () => process.stdout.write(renderSandboxes(r.sandboxes, Date.now(), r.hosts)));
    return 0;
  }
  const sandboxes = await client.listSandboxes();
  output(json, { sandboxes }, () => process.stdout.write(renderSandboxes(sandboxes)));
  return 0;
}

export async function stopCommand(client: DaemonClient, name: string, json: boolean): Promise<number> {
  const view = await client.stopSandbox(name);
  output(json, view, () => process.stdout.write(`Stopped ${view.name}; its files are kept (\`bkg start ${view.name}\` brings it back, \`bkg rm ${view.name}\` deletes it).\n`));
  return 0;
}

/** Start sandboxes that exist (a running one is left alone), or those of cave.yaml that do not yet. */
export async function startCommand(client: DaemonClient, names: string[], opts: { json: boolean; configPath: string }): Promise<number> {
  const started: { name: string; status: string; created: boolean; started: boolean }[] = [];
  for (const name of names) {
    let view: SandboxView | null = null;
    try {
      view = await client.getSandbox(name);
    } catch (err) {
      if (!(err instanceof BkgError && err.code === 'NOT_FOUND') || !existsSync(opts.configPath)) throw err;
    }
    if (view === null) {
      const { runProject } = await import('./run-project.js');
      const r = await runProject(client, { name, configPath: opts.configPath });
      const s = r.sandboxes[0];
      if (s) started.push({ name: s.name, status: s.sandbox.status, created: s.created, started: s.started });
      continue;
    }
    if (view.status === 'running') {
      started.push({ name: view.name, status: view.status, created: false, started: false });
      continue;
    }
    view = await client.startSandbox(view.id);
    started.push({ name: view.name, status: view.status, created: false, started: true });
  }
  output(opts.json, { sandboxes: started }, () => {
    for (const s of started) process.stdout.write(`${s.name}: ${s.created ? 'created and started' : s.started ? 'started' : `already ${s.status}`}\n`);
  });
  return 0;
}

/** Remove a sandbox and its state; refuses a running one or unapplied workspace changes unless forced. */
export async function rmCommand(client: DaemonClient, name: string, opts: { json: boolean; force: boolean }): Promise<number> {
  const s = await client.getSandbox(name);
  if (!opts.force) {
    if (s.status === 'running') throw new BkgError('CONFLICT', `sandbox "${s.name}" is running`, { hint: `Stop it first (\`bkg stop ${s.name}\`), or pass --force.` });
    const changes = s.workspace ? await client.changes(s.id) : [];
    if (changes.length) {
      throw new BkgError('CONFLICT', `sandbox "${s.name}" has ${plural(changes.length, 'workspace change')} not applied to ${s.workspace}:\n${renderChanges(changes.slice(0, 10)).trimEnd()}${changes.length > 10 ? `\n... and ${changes.length - 10} more` : ''}`, {
        hint: `Copy them to the host with \`bkg apply ${s.name}\`, or pass --force to delete them with the sandbox.`,
        details: { changes: changes.length },
      });
    }
  }
  await client.removeSandbox(s.id);
  output(opts.json, { removed: true, id: s.id, name: s.name }, () => process.stdout.write(`Removed ${s.name}.\n`));
  return 0;
}
