/**
 * Rootless: bkg run by ordinary users that the test creates (one with subordinate ids in
 * /etc/subuid and /etc/subgid, one without), through the real CLI, daemon and helper. Limits come
 * only from a cgroup subtree root delegated to the user; without one the CLI refuses and doctor
 * says what to enable.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, collect, type CliResult } from '../helpers/cli.js';
import { FETCH_PY, HOST_LOOPBACK, startHostServers } from '../helpers/egress.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const SUB_USER = 'bkg-rootless';
const OWN_USER = 'bkg-rootless-own';
const CONTROLLERS = ['memory', 'cpu', 'pids', 'cpuacct'];
const V1 = existsSync('/sys/fs/cgroup/memory/cgroup.procs');

function skipReason(): string | null {
  const base = sandboxSkipReason();
  if (base) return base;
  let reason: string | null = null;
  if (process.getuid?.() !== 0) reason = 'creating the test users needs root';
  else if (spawnSync('useradd', ['--help']).error) reason = 'useradd is missing';
  else if (!existsSync('/usr/bin/newuidmap')) reason = '/usr/bin/newuidmap is missing (Debian package uidmap; .ci/run installs it)';
  else if (!V1) reason = 'the delegation test drives cgroup v1 directories (this host has cgroup v2 controllers)';
  if (reason && process.env.CI === 'true') throw new Error(`CI=true but ${reason}: the rootless tests may not skip in CI`);
  if (reason) console.warn(`skipping rootless tests: ${reason}`);
  return reason;
}
const skip = skipReason();

function idOf(user: string): number {
  return Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim());
}

/** The test's users, created once per host (useradd gives a regular user subordinate ranges). */
function ensureUser(user: string, subordinate: boolean): number {
  if (spawnSync('id', ['-u', user]).status !== 0) {
    const args = subordinate ? ['-m', '-s', '/bin/sh', user] : ['-r', '-M', '-d', '/nonexistent', '-s', '/usr/sbin/nologin', user];
    const r = spawnSync('useradd', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`useradd ${user}: ${r.stderr}`);
  }
  const listed = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '').split('\n').some((l) => l.startsWith(`${user}:`));
  if (subordinate && (!listed('/etc/subuid') || !listed('/etc/subgid'))) {
    const r = spawnSync('usermod', ['--add-subuids', '300000-365535', '--add-subgids', '300000-365535', user], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`usermod ${user}: ${r.stderr}`);
  }
  if (!subordinate && (listed('/etc/subuid') || listed('/etc/subgid'))) throw new Error(`${user} must have no subordinate ids`);
  return idOf(user);
}

const delegated = (uid: number) => CONTROLLERS.map((c) => join('/sys/fs/cgroup', c, `bkg-${uid}`));

function delegate(uid: number): void {
  for (const dir of delegated(uid)) {
    mkdirSync(dir, { recursive: true });
    chownSync(dir, uid, -1);
    for (const f of ['cgroup.procs', 'tasks']) if (existsSync(join(dir, f))) chownSync(join(dir, f), uid, -1);
  }
}

function undelegate(uid: number): void {
  for (const dir of delegated(uid)) if (existsSync(dir)) rmdirSync(dir);
}

/** Where the test users find node and bkg: as they are, or (a checkout under a directory they cannot enter, say /root) bind-mounted and copied where they can. */
const reach = { node: process.execPath, bin: BIN, mounted: null as string | null };

const canRead = (path: string): boolean => spawnSync('runuser', ['-u', SUB_USER, '--', 'test', '-r', path]).status === 0;

function makeReachable(root: string): void {
  if (!canRead(BIN)) {
    const repo = dirname(dirname(BIN));
    const checkout = join(root, 'checkout');
    mkdirSync(checkout);
    const r = spawnSync('mount', ['--bind', repo, checkout], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`cannot bind-mount the checkout for the test users: ${r.stderr}`);
    reach.mounted = checkout;
    reach.bin = join(checkout, relative(repo, BIN));
    if (!canRead(reach.bin)) throw new Error(`${SUB_USER} cannot read ${BIN} even from ${checkout}: the checkout itself must be readable by other users`);
  }
  if (!canRead(process.execPath)) {
    reach.node = join(root, 'node');
    copyFileSync(process.execPath, reach.node);
    chmodSync(reach.node, 0o755);
  }
}

/** bkg as `user`, with a clean environment of its own. */
function asUser(user: string, home: string, args: string[], opts: { cwd?: string; input?: string } = {}): Promise<CliResult> {
  const env = [`HOME=${home}`, `BKG_HOME=${join(home, '.bkg')}`, 'BKG_PORT=0', 'PATH=/usr/local/bin:/usr/bin:/bin', 'NO_COLOR=1', 'LANG=C.UTF-8'];
  return collect(spawn('runuser', ['-u', user, '--', 'env', '-i', ...env, reach.node, reach.bin, ...args], { cwd: opts.cwd ?? home, stdio: ['pipe', 'pipe', 'pipe'] }), opts.input);
}

interface Check {
  id: string;
  status: string;
  detail: string;
  fix?: string;
}

describe.skipIf(skip)('rootless: bkg for an ordinary user', () => {
  let subUid = 0;
  let ownUid = 0;
  let root = '';
  const homes: Record<string, string> = {};

  beforeAll(() => {
    subUid = ensureUser(SUB_USER, true);
    ownUid = ensureUser(OWN_USER, false);
    undelegate(subUid);
    undelegate(ownUid);
    root = mkdtempSync(join(tmpdir(), 'bkg-rootless-'));
    spawnSync('chmod', ['755', root]);
    for (const [user, uid] of [[SUB_USER, subUid], [OWN_USER, ownUid]] as const) {
      const home = join(root, user);
      mkdirSync(home);
      chownSync(home, uid, uid);
      homes[user] = home;
    }
    makeReachable(root);
  });

  afterAll(async () => {
    if (homes[SUB_USER]) await asUser(SUB_USER, homes[SUB_USER], ['daemon', 'stop']);
    undelegate(subUid);
    undelegate(ownUid);
    if (!root) return;
    // never a recursive remove through the bind mount (it is the checkout): the homes and the copy of node, then empty directories
    for (const home of Object.values(homes)) rmSync(home, { recursive: true, force: true });
    rmSync(join(root, 'node'), { force: true });
    if (reach.mounted) {
      // the user's daemon and sandboxes may still be on their way out
      for (let i = 0; i < 100 && spawnSync('umount', [reach.mounted]).status !== 0; i++) await new Promise((r) => setTimeout(r, 100));
      rmdirSync(reach.mounted); // fails, and leaves everything, if it is still mounted
    }
    rmdirSync(root);
  });

  it('refuses a sandbox whose limits it cannot enforce, and doctor says what to enable', async () => {
    const home = homes[SUB_USER] as string;
    const r = await asUser(SUB_USER, home, ['run', '--rm', '--', 'true']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('cannot enforce the memory limit');
    expect(r.stderr).toContain(`not delegated to uid ${subUid}`);
    const d = await asUser(SUB_USER, home, ['doctor', '--json']);
    const checks = (JSON.parse(d.stdout) as { checks: Check[] }).checks;
    const memory = checks.find((c) => c.id === 'cgroup-memory');
    expect(memory?.status).toBe('fail');
    expect(memory?.fix).toContain(`chown -R ${subUid} /sys/fs/cgroup/memory/bkg-${subUid}`);
    const rootless = checks.find((c) => c.id === 'rootless');
    expect(rootless?.status).toBe('warn');
    expect(rootless?.detail).toContain(`sandbox uid 0 is your uid ${subUid}`);
    expect(rootless?.detail).toContain('no delegated cgroup for memory, cpu, pids');
  });

  it('with delegated cgroups and subordinate ids: its own uid as root, the subordinate range for the rest, limits enforced', async () => {
    delegate(subUid);
    const home = homes[SUB_USER] as string;
    const sub = readFileSync('/etc/subuid', 'utf8').split('\n').find((l) => l.startsWith(`${SUB_USER}:`))?.split(':')[1];
    const r = await asUser(SUB_USER, home, ['run', '--rm', '--', 'sh', '-c', 'cat /proc/self/uid_map; touch /workspace/f; chown 5:5 /workspace/f; stat -c %u:%g /workspace/f; id -u']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
    expect(lines).toEqual([`0 ${subUid} 1`, `1 ${sub} 65535`, '5:5', '0']);
    const oom = await asUser(SUB_USER, home, ['run', '--rm', '--json', '--memory', '64m', '--', 'python3', '-c', 'a = bytearray(256 << 20)']);
    const verdict = JSON.parse(oom.stdout) as { oom_killed: boolean; limits_hit: string[] };
    expect(verdict.oom_killed).toBe(true);
    expect(verdict.limits_hit).toContain('memory');
    const pids = await asUser(SUB_USER, home, ['run', '--rm', '--json', '--pids', '8', '--', 'sh', '-c', 'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 2 & done; wait']);
    expect((JSON.parse(pids.stdout) as { limits_hit: string[] }).limits_hit).toContain('pids');
    const d = await asUser(SUB_USER, home, ['doctor', '--json']);
    const rootless = (JSON.parse(d.stdout) as { checks: Check[] }).checks.find((c) => c.id === 'rootless');
    expect(rootless).toMatchObject({ status: 'ok' });
    expect(rootless?.detail).toContain(`your subordinate ids ${sub}..`);
    // what the sandbox left in the delegated tree: nothing
    for (const dir of delegated(subUid)) expect(spawnSync('find', [dir, '-mindepth', '1', '-type', 'd'], { encoding: 'utf8' }).stdout).toBe('');
  });

  it('without subordinate ids: the sandbox has one id (the user\'s), and doctor says how to get more', async () => {
    delegate(ownUid);
    const home = homes[OWN_USER] as string;
    const r = await asUser(OWN_USER, home, ['run', '--rm', '--', 'sh', '-c', 'cat /proc/self/uid_map; touch /tmp/f; chown 5 /tmp/f || echo refused']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
    expect(lines).toEqual([`0 ${ownUid} 1`, 'refused']);
    const d = await asUser(OWN_USER, home, ['doctor', '--json']);
    const rootless = (JSON.parse(d.stdout) as { checks: Check[] }).checks.find((c) => c.id === 'rootless');
    expect(rootless?.status).toBe('warn');
    expect(rootless?.detail).toContain(`no subordinate uid range for ${OWN_USER}`);
    expect(rootless?.fix).toContain('usermod --add-subuids');
  });

  it('runs the daemon: a persistent sandbox keeps its files over stop, start and a daemon restart, and its key works inside', async () => {
    delegate(subUid);
    const home = homes[SUB_USER] as string;
    const project = join(home, 'proj');
    mkdirSync(project);
    chownSync(project, subUid, subUid);
    expect((await asUser(SUB_USER, home, ['init'], { cwd: project })).code).toBe(0);
    expect((await asUser(SUB_USER, home, ['add', 'w'], { cwd: project })).code).toBe(0);
    const started = await asUser(SUB_USER, home, ['start', 'w'], { cwd: project });
    expect(started.stderr).toContain('started the daemon');
    expect(started.code).toBe(0);
    const whoami = [
      'import http.client, os, socket',
      'c = http.client.HTTPConnection("l")',
      'c.sock = socket.socket(socket.AF_UNIX)',
      'c.sock.connect("/run/bkg/api.sock")',
      'c.request("GET", "/api/v1/whoami", headers={"authorization": "Bearer " + os.environ["BKG_API_KEY"]})',
      'print(c.getresponse().read().decode())',
    ].join('\n');
    const inside = await asUser(SUB_USER, home, ['exec', 'w', '--', 'sh', '-c', `echo kept > /workspace/a && python3 -c '${whoami}'`]);
    expect(inside.code).toBe(0);
    expect(JSON.parse(inside.stdout)).toMatchObject({ kind: 'sandbox' });
    const ps = spawnSync('ps', ['-o', 'user=', '-u', String(subUid)], { encoding: 'utf8' });
    expect(ps.stdout).toContain(SUB_USER); // the daemon and the sandbox run as the user
    expect(spawnSync('ps', ['-eo', 'user=,args='], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.includes('bkg-helper') && l.includes(home) && l.startsWith('root'))).toEqual([]);
    expect((await asUser(SUB_USER, home, ['stop', 'w'], { cwd: project })).code).toBe(0);
    expect((await asUser(SUB_USER, home, ['start', 'w'], { cwd: project })).code).toBe(0);
    expect((await asUser(SUB_USER, home, ['exec', 'w', '--', 'cat', '/workspace/a'])).stdout).toBe('kept\n');
    expect((await asUser(SUB_USER, home, ['daemon', 'stop'])).code).toBe(0);
    const again = await asUser(SUB_USER, home, ['exec', 'w', '--', 'cat', '/workspace/a']);
    expect(again.stdout).toBe('kept\n');
    // a snapshot and a fork of it, as the user
    expect((await asUser(SUB_USER, home, ['fork', 'w', 'w2'])).code).toBe(0);
    expect((await asUser(SUB_USER, home, ['exec', 'w2', '--', 'cat', '/workspace/a'])).stdout).toBe('kept\n');
    for (const n of ['w', 'w2']) expect((await asUser(SUB_USER, home, ['rm', '--force', n], { cwd: project })).code).toBe(0);
  });

  it('reaches an allowlisted host through the egress proxy, and nothing else', async () => {
    delegate(subUid);
    const home = homes[SUB_USER] as string;
    const servers = await startHostServers();
    try {
      const fetch = (port: number) => asUser(SUB_USER, home, ['run', '--rm', '--network', `allow:${HOST_LOOPBACK}:${servers.web}`, '--', 'python3', '-c', FETCH_PY, `http://${HOST_LOOPBACK}:${port}/x`]);
      const allowed = await fetch(servers.web);
      expect(allowed.stdout).toContain(`hello from ${servers.web}`);
      const denied = await fetch(servers.other);
      expect(denied.stdout).toMatch(/^HTTP 403/);
      expect(denied.stderr).toContain('NETWORK_DENIED');
      expect(servers.hits.other).toBe(0);
    } finally {
      await servers.close();
    }
  });
});
