/**
 * The helper spec builder: a pure function from a sandbox definition and host facts to the
 * helper's NUL-separated argument tokens. All sandbox policy is decided here.
 */
import type { CgroupPlan } from './cgroups.js';
import { WORKSPACE_MOUNT, type ExecDefinition, type SandboxDefinition } from './definition.js';
import { egressEnv, egressTokens } from './egress/environment.js';
import type { HostInfo } from './host.js';
import type { Identity } from './identity.js';
import { secretFilesTokens } from './secret-files.js';

/** Host files under /etc that programs need to behave as on the host. Never shadow, never home dirs. */
export const ETC_ENTRIES = [
  '/etc/passwd', '/etc/group', '/etc/hosts', '/etc/resolv.conf', '/etc/nsswitch.conf', '/etc/host.conf',
  '/etc/gai.conf', '/etc/protocols', '/etc/services', '/etc/localtime', '/etc/ld.so.cache', '/etc/ld.so.conf',
  '/etc/ld.so.conf.d', '/etc/alternatives', '/etc/ssl', '/etc/ca-certificates', '/etc/pki', '/etc/mime.types',
  '/etc/os-release', '/etc/debian_version', '/etc/bash.bashrc', '/etc/profile', '/etc/inputrc', '/etc/terminfo',
] as const;

/** Capabilities (inside the sandbox's own user namespace) kept in the bounding set. */
export const KEPT_CAPABILITIES: Record<string, number> = {
  CAP_CHOWN: 0, CAP_DAC_OVERRIDE: 1, CAP_FOWNER: 3, CAP_FSETID: 4, CAP_KILL: 5, CAP_SETGID: 6, CAP_SETUID: 7, CAP_NET_BIND_SERVICE: 10,
};

export const SANDBOX_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** HOME inside: root's own directory on the writable layer, outside /workspace (dot files never land in the diff). */
export const HOME_DIR = '/root';

/** A persistent sandbox's lifetime is ended (with its files saved) by the daemon; its helper ends it this much later if nobody did. */
export const PERSIST_DEADLINE_GRACE_MS = 10_000;

export function sandboxEnv(def: SandboxDefinition): Record<string, string> {
  return {
    PATH: SANDBOX_PATH,
    HOME: HOME_DIR,
    LANG: 'C.UTF-8',
    HOSTNAME: hostnameOf(def),
    ...egressEnv(def.network),
    ...(def.env ?? {}),
  };
}

export function hostnameOf(def: SandboxDefinition): string {
  return def.hostname ?? `bkg-${def.id.slice(0, 12)}`;
}

export function buildHelperSpec(def: SandboxDefinition, host: HostInfo, cgroups: CgroupPlan): string[] {
  const t: string[] = [];
  identityTokens(t, host.identity);
  if (!def.persist || def.dieWithParent) t.push('--die-with-parent');
  t.push('--hostname', hostnameOf(def));
  if (def.network === 'host') t.push('--share-net');
  t.push(...egressTokens(def.network));
  for (const dir of cgroups.dirs) t.push('--cgroup', dir);
  for (const [file, value] of cgroups.sets) t.push('--cgroup-set', file, value);
  for (const [name, file] of Object.entries(cgroups.reports)) t.push('--report', name, file);
  if (def.limits.timeoutMs !== undefined) t.push('--timeout-ms', String(def.limits.timeoutMs + (def.persist ? PERSIST_DEADLINE_GRACE_MS : 0)));
  if (def.limits.diskBytes === undefined) throw new Error('buildHelperSpec: limits.diskBytes is required (writable space is always capped)');
  t.push('--scratch', String(def.limits.diskBytes));
  if (def.restoreFrom) t.push('--restore', def.restoreFrom); // before the scratch dirs and the overlay that use what it restores

  for (const entry of host.rootEntries) {
    if (entry.kind === 'bind') t.push('--ro-bind', entry.path, entry.path);
    else t.push('--symlink', entry.target, entry.path);
  }
  for (const path of ETC_ENTRIES) t.push('--ro-bind-try', path, path);
  t.push('--proc', '/proc', '--dev', '/dev', '--scratch-dir', 'tmp', '/tmp', '--scratch-dir', 'shm', '/dev/shm', '--scratch-home', 'home', HOME_DIR);
  // as root the monitor opens the socket (the sandbox's own range cannot reach BKG_HOME); an ordinary user's sandbox root is the user
  if (def.apiSocket) t.push(host.privileged ? '--host-bind' : '--bind', def.apiSocket.host, def.apiSocket.inside);
  t.push(...secretFilesTokens(def));
  if (def.workspace) {
    if (host.privileged) t.push('--idmap-lower');
    t.push('--overlay', def.workspace, WORKSPACE_MOUNT);
  } else {
    t.push('--scratch-upper', WORKSPACE_MOUNT); // an empty workspace on the writable layer: capped, saved and listed like an overlay's upper
  }
  if (def.persist) {
    t.push('--persist');
    if (def.execSocket) t.push('--exec-socket', def.execSocket);
    return t;
  }
  commandTokens(t, def, def);
  return t;
}

/** Whose ids the sandbox's are: a range claimed from the pool (root), or the user's own maps. */
function identityTokens(t: string[], id: Identity): void {
  if (id.pool) {
    t.push('--id-pool', id.pool.dir, String(id.pool.start), String(id.pool.slots), String(id.pool.count));
    return;
  }
  for (const m of id.uidMaps) t.push('--uid-map', String(m.inside), String(m.outside), String(m.count));
  for (const m of id.gidMaps) t.push('--gid-map', String(m.inside), String(m.outside), String(m.count));
  if (id.newIdMap) t.push('--newidmap', id.newIdMap.uid, id.newIdMap.gid);
  if (deniesSetgroups(id)) t.push('--setgroups-deny');
}

/** An unprivileged writer of gid_map must deny setgroups (newgidmap, setuid, need not). */
function deniesSetgroups(id: Identity): boolean {
  return !id.pool && !id.newIdMap;
}

/** The command part of a spec: working directory (/workspace unless given), environment, capabilities, argv. */
function commandTokens(t: string[], def: SandboxDefinition, cmd: { argv: string[]; env?: Record<string, string>; cwd?: string }): void {
  t.push('--chdir', cmd.cwd ?? WORKSPACE_MOUNT);
  for (const [k, v] of Object.entries({ ...sandboxEnv(def), ...(cmd.env ?? {}) })) t.push('--setenv', `${k}=${v}`);
  for (const cap of Object.values(KEPT_CAPABILITIES)) t.push('--cap-keep', String(cap));
  t.push('--', ...cmd.argv);
}

/** The spec for one command inside a running sandbox: it joins the sandbox's existing cgroups. */
export function buildExecSpec(def: SandboxDefinition, exec: ExecDefinition, host: HostInfo, cgroups: CgroupPlan): string[] {
  const t: string[] = [];
  if (deniesSetgroups(host.identity)) t.push('--setgroups-deny');
  t.push('--die-with-parent');
  for (const dir of cgroups.dirs) t.push('--cgroup', dir);
  if (exec.timeoutMs !== undefined) t.push('--timeout-ms', String(exec.timeoutMs));
  if (exec.tty) t.push('--pty', String(exec.tty.rows), String(exec.tty.cols));
  commandTokens(t, def, exec);
  return t;
}

export function encodeSpec(tokens: string[]): Buffer {
  for (const tok of tokens) {
    if (tok.includes('\0')) throw new Error('spec tokens must not contain NUL bytes');
  }
  return Buffer.from(tokens.map((x) => `${x}\0`).join(''), 'utf8');
}
