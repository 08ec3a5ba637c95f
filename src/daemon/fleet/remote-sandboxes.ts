/** The sandbox service's view of the other hosts (RemoteSandboxes): each call forwarded through the Forwarder as the caller. */
import type { RemoteSandboxes } from '../sandbox/service.js';
import type { FleetDirectory, PeerHost } from './directory.js';
import type { Forwarder } from './forward.js';
import { execRemote } from './remote-exec.js';
import { listFilesRemote } from './remote-files.js';

/** The live host running the fewest sandboxes (this one first among equals); only hosts that take forwarded requests. */
export function leastLoaded(selfId: string, hosts: readonly PeerHost[]): { id: string; name: string } {
  const running = (h: PeerHost): number => (typeof h.load.running === 'number' ? h.load.running : Number.MAX_SAFE_INTEGER);
  const candidates = hosts.filter((h) => h.id === selfId || (h.alive && h.peerUrl !== null));
  const best = [...candidates].sort((a, b) => running(a) - running(b) || (a.id === selfId ? -1 : b.id === selfId ? 1 : a.name.localeCompare(b.name)))[0];
  return best ?? { id: selfId, name: 'this host' };
}

export function remoteSandboxes(f: Forwarder, directory: FleetDirectory): RemoteSandboxes {
  return {
    get selfId() {
      return f.selfId;
    },
    get: (host, p, id) => f.call(host, p, (c) => c.getSandbox(id)),
    start: (host, p, id) => f.call(host, p, (c) => c.startSandbox(id)),
    stop: (host, p, id) => f.call(host, p, (c) => c.stopSandbox(id)),
    remove: (host, p, id) => f.call(host, p, (c) => c.removeSandbox(id)),
    exec: (host, p, id, req) => f.call(host, p, (c) => c.exec(id, req)),
    execWith: (host, p, id, req, io) => execRemote(f, host, p, id, req, io),
    changes: (host, p, id) => f.call(host, p, (c) => c.changes(id)),
    apply: (host, p, id) => f.call(host, p, (c) => c.apply(id)),
    readFile: (host, p, id, path) => f.call(host, p, (c) => c.readFile(id, path)),
    writeFile: (host, p, id, path, data) => f.call(host, p, (c) => c.writeFile(id, path, data)),
    listFiles: (host, p, id, path) => listFilesRemote(f, host, p, id, path),
    logs: (host, p, id) => f.call(host, p, (c) => c.logs(id)),
    create: (host, p, req) => f.call(host, p, async (c) => {
      const r = await c.createSandbox(req);
      return { sandbox: r.sandbox, apiKey: r.api_key_secret };
    }),
    place: async () => leastLoaded(f.selfId, await directory.hosts()),
  };
}
