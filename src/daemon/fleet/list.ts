/**
 * Every host's sandboxes (`GET /sandboxes?all_hosts=1`, `bkg ls --all-hosts`): read from the fleet
 * database under row-level security (a namespace key's read runs with SET LOCAL bkg.namespace, so
 * a query can only return that namespace's rows), or from this host's replica while the fleet
 * database is away. The one authoriser still decides what the caller sees.
 */
import type { SandboxView } from '../../api/sandboxes.js';
import { sandboxFromRow, type Sandbox, type SandboxRepo } from '../../store/index.js';
import type { Principal } from '../auth/api-keys.js';
import type { Authorizer } from '../auth/authorize.js';
import type { Fleet } from './index.js';

export interface FleetListDeps {
  fleet: Fleet;
  authz: Authorizer;
  sandboxes: SandboxRepo;
  view: (s: Sandbox) => SandboxView;
}

export async function listAllHosts(p: Principal, d: FleetListDeps): Promise<{ sandboxes: SandboxView[]; hosts: { id: string; name: string; alive: boolean }[] }> {
  d.authz.require(p, 'sandbox.list');
  const scope = d.authz.scope(p).namespaceId;
  const db = d.fleet.db();
  let rows: Sandbox[];
  if (db) {
    try {
      rows = (await db.fleetSandboxes(scope)).map((r) => sandboxFromRow(r.row));
    } catch {
      rows = d.sandboxes.list(scope, { allHosts: true });
    }
  } else {
    rows = d.sandboxes.list(scope, { allHosts: true });
  }
  const sandboxes = rows.filter((s) => d.authz.sees(p, s)).sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? -1 : 1) : a.createdAt < b.createdAt ? -1 : 1)).map(d.view);
  const hosts = (await d.fleet.directory.hosts()).map((h) => ({ id: h.id, name: h.name, alive: h.alive }));
  return { sandboxes, hosts };
}
