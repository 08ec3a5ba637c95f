/**
 * The egress allowlist through the real helper and real sandboxes: the sandbox keeps its own network
 * namespace (loopback only), and its one way out is bkg's proxy, which serves a socket the helper
 * created inside that namespace. Servers on the host's loopback stand in for the internet: the proxy
 * connects from the host's network, so an allowed host:port answers (plain HTTP and CONNECT); any
 * other host or port, direct TCP and UDP, in-sandbox DNS, and names that resolve to an allowed
 * address but are not themselves allowed get nowhere, and each refusal is reported with the run or
 * exec it happened in.
 */
import { createHash } from 'node:crypto';
import type { LookupAddress } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { newSandboxId, type NetworkMode, type SandboxDefinition } from '../../src/runtime/definition.js';
import type { EgressDenial, EgressOutcome } from '../../src/runtime/egress/proxy.js';
import { SandboxEngine, type SandboxHandle } from '../../src/runtime/engine.js';
import { withDefaults } from '../../src/runtime/limits.js';
import { BIG_BODY, DIRECT_PY, externalAddress, FETCH_PY, HOST_LOOPBACK as LO, startHostServers, TUNNEL_PY, type HostServers } from '../helpers/egress.js';
import { makeRuntime, sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();
const { host } = makeRuntime();
const log = createLogger({ level: 'silent' });

/** Names of the test's own "DNS": each resolves to the host's loopback, where the servers are. */
const FAKE_DNS: Record<string, string> = { 'web.bkg.test': LO, 'evil.bkg.test': LO, 'rebind.allowed.test': LO };
const testLookup = async (name: string): Promise<LookupAddress[]> => (FAKE_DNS[name] ? [{ address: FAKE_DNS[name], family: 4 }] : lookup(name, { all: true }));

const heard: { sandbox: string; denied?: EgressDenial; outcome?: EgressOutcome }[] = [];
const engine = new SandboxEngine({
  host, log,
  egress: {
    lookup: testLookup,
    observers: (sandbox) => ({ denied: (d) => heard.push({ sandbox, denied: d }), outcome: (o) => heard.push({ sandbox, outcome: o }) }),
  },
});
let servers: HostServers;
const started: SandboxHandle[] = [];

beforeAll(async () => {
  servers = await startHostServers();
});

afterAll(async () => {
  for (const h of started) await engine.stop(h);
  await servers?.close();
});

function define(network: NetworkMode, argv: string[] = []): SandboxDefinition {
  return { id: newSandboxId(), argv, limits: withDefaults({ memoryBytes: 256 << 20, pids: 64, timeoutMs: 30_000 }), network };
}

async function run(network: NetworkMode, script: string, ...args: string[]) {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const def = define(network, ['/usr/bin/python3', '-c', script, ...args]);
  const r = await engine.run(def, { stdio: ['ignore', 'pipe', 'pipe'], onStdout: (c) => out.push(c), onStderr: (c) => err.push(c) });
  return { ...r, def, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

async function exec(h: SandboxHandle, script: string, ...args: string[]) {
  return execOn(engine, h, script, ...args);
}

async function execOn(on: SandboxEngine, h: SandboxHandle, script: string, ...args: string[]) {
  const out: Buffer[] = [];
  const r = await on.exec(h, { argv: ['/usr/bin/python3', '-c', script, ...args] }, { stdio: ['ignore', 'pipe', 'pipe'], onStdout: (c) => out.push(c) });
  return { ...r, stdout: Buffer.concat(out).toString() };
}

describe.skipIf(skip)('network egress allowlist (bkg run --rm)', () => {
  it('lets an allowed host:port through the proxy, plain HTTP and CONNECT, and sets the proxy variables inside', async () => {
    const before = servers.hits.web;
    const net = `allow:${LO}:${servers.web}` as const;
    const plain = await run(net, FETCH_PY, `http://${LO}:${servers.web}/plain`);
    expect(plain.stdout.trim()).toBe(`hello from ${servers.web} host=${LO}:${servers.web} path=/plain`);
    const tunnel = await run(net, TUNNEL_PY, LO, String(servers.web));
    expect(tunnel.stdout.trim()).toBe(`hello from ${servers.web} host=${LO}:${servers.web} path=/tunnel`);
    expect(servers.hits.web).toBe(before + 2);
    expect(plain.networkDenied).toBeUndefined();
    const env = await run(net, 'import os; print(os.environ["HTTP_PROXY"], os.environ["https_proxy"], os.environ["NO_PROXY"])');
    expect(env.stdout.trim()).toBe('http://127.0.0.1:3128 http://127.0.0.1:3128 localhost,127.0.0.1,::1');
    expect(heard.filter((e) => e.sandbox === plain.def.id && e.outcome === 'allowed')).toHaveLength(1);
  });

  it('refuses another port and another host with 403 NETWORK_DENIED, and reports each in the result', async () => {
    const before = servers.hits.other;
    const r = await run(`allow:${LO}:${servers.web}`, `
import subprocess, sys
for url in sys.argv[1:]:
    subprocess.run([sys.executable, '-c', ${JSON.stringify(FETCH_PY)}, url])
`, `http://${LO}:${servers.other}/`, 'http://example.com/', `http://${LO}:${servers.other}/again`);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).toMatch(/^HTTP 403 bkg: NETWORK_DENIED: connection to \S+ refused: /);
    expect(lines[0]).toContain(`allowed on port ${servers.web} only, not ${servers.other}`);
    expect(lines[1]).toContain("example.com is not on this sandbox's allowlist");
    expect(servers.hits.other).toBe(before); // never reached
    expect(r.networkDenied).toEqual([
      expect.objectContaining({ host: LO, port: servers.other, reason: 'port', count: 2 }),
      expect.objectContaining({ host: 'example.com', port: 80, reason: 'not_allowed', count: 1 }),
    ]);
    const told = heard.filter((e) => e.sandbox === r.def.id && e.denied).map((e) => e.denied?.reason);
    expect(told).toEqual(['port', 'not_allowed', 'port']); // the observer hears every one, ungrouped
  });

  it('relays large bodies intact, through a tunnel and as plain HTTP', async () => {
    const want = `${BIG_BODY.length} ${createHash('sha256').update(BIG_BODY).digest('hex')}`;
    const tunnel = await run(`allow:${LO}:${servers.web}`, TUNNEL_PY, LO, String(servers.web), '/big');
    expect(tunnel.stdout.trim()).toBe(want);
    const plain = await run(`allow:${LO}:${servers.web}`, 'import sys, hashlib, urllib.request; b = urllib.request.urlopen(sys.argv[1]).read(); print(len(b), hashlib.sha256(b).hexdigest())', `http://${LO}:${servers.web}/big`);
    expect(plain.stdout.trim()).toBe(want);
  });

  it('CONNECT to a host that is not allowed is refused too', async () => {
    const r = await run(`allow:${LO}:${servers.web}`, TUNNEL_PY, LO, String(servers.other));
    expect(r.stdout).toMatch(/ERR OSError Tunnel connection failed: 403/);
    expect(r.networkDenied).toEqual([expect.objectContaining({ host: LO, port: servers.other, reason: 'port' })]);
  });

  it('gives direct TCP, UDP, raw sockets and DNS no way out: only loopback exists inside', async () => {
    const before = { ...servers.hits };
    const r = await run(`allow:${LO}:${servers.web}`, DIRECT_PY, LO, String(servers.tcp), String(servers.udp));
    // the sandbox's 127.0.0.0/8 is its own loopback: nothing listens there, and the host's servers are not reached
    expect(r.stdout).toContain('tcp ConnectionRefusedError 111');
    expect(r.stdout).toContain('dns gaierror');
    expect(r.stdout).toContain('raw PermissionError'); // no CAP_NET_RAW
    const ext = externalAddress();
    if (ext) {
      const far = await run(`allow:${ext}:*`, DIRECT_PY, ext, String(servers.tcp), String(servers.udp));
      expect(far.stdout).toContain('tcp OSError 101'); // ENETUNREACH: no route, even to an allowed address
      expect(far.stdout).toContain('udp OSError 101');
    }
    await new Promise((resolve) => setTimeout(resolve, 200)); // a stray datagram would have arrived by now
    expect(servers.hits.tcp).toBe(before.tcp);
    expect(servers.hits.udp).toBe(before.udp);
  });

  it('refuses names that resolve to an allowed address but are not allowed themselves (DNS tricks)', async () => {
    const webHits = servers.hits.web;
    // evil.bkg.test resolves to the allowed address; the name itself is not allowed
    const r = await run(`allow:${LO}:${servers.web}`, FETCH_PY, `http://evil.bkg.test:${servers.web}/`);
    expect(r.stdout).toMatch(/^HTTP 403 .*evil\.bkg\.test is not on this sandbox's allowlist/);
    const tunnel = await run(`allow:${LO}:${servers.web}`, TUNNEL_PY, 'evil.bkg.test', String(servers.web));
    expect(tunnel.stdout).toMatch(/Tunnel connection failed: 403/);
    // a wildcard never leads to the host's own addresses, however the name resolves
    const rebind = await run(`allow:*.allowed.test:${servers.web}`, FETCH_PY, `http://rebind.allowed.test:${servers.web}/`);
    expect(rebind.stdout).toMatch(/^HTTP 403 .*resolves to 127\.0\.0\.2/);
    expect(rebind.networkDenied).toEqual([expect.objectContaining({ host: 'rebind.allowed.test', reason: 'address' })]);
    // an exact name entry does: it names the host on purpose
    const named = await run(`allow:web.bkg.test:${servers.web}`, FETCH_PY, `http://web.bkg.test:${servers.web}/named`);
    expect(named.stdout.trim()).toBe(`hello from ${servers.web} host=web.bkg.test:${servers.web} path=/named`);
    expect(r.networkDenied).toEqual([expect.objectContaining({ host: 'evil.bkg.test', port: servers.web, reason: 'not_allowed' })]);
    expect(servers.hits.web).toBe(webHits + 1); // only the named one got through
  });

  it('leaves no descriptor behind: each run\'s proxy and IPC channel go with it', async () => {
    const fds = () => readdirSync('/proc/self/fd').length;
    await run(`allow:${LO}:${servers.web}`, FETCH_PY, `http://${LO}:${servers.web}/warm`);
    const before = fds();
    for (let i = 0; i < 5; i++) await run(`allow:${LO}:${servers.web}`, FETCH_PY, `http://${LO}:${servers.web}/again`);
    expect(fds()).toBeLessThanOrEqual(before + 1);
  });

  it('checks the URL it connects to, not a Host header the client adds', async () => {
    const r = await run(`allow:${LO}:${servers.web}`, `
import os, http.client
c = http.client.HTTPConnection('127.0.0.1', 3128)  # the proxy, on the sandbox's own loopback
c.request('GET', 'http://${LO}:${servers.web}/fronted', headers={'Host': 'evil.example'})
print(c.getresponse().read().decode())
`);
    expect(r.stdout.trim()).toBe(`hello from ${servers.web} host=${LO}:${servers.web} path=/fronted`);
  });
});

describe.skipIf(skip)('network egress allowlist (persistent sandboxes)', () => {
  it('serves a running sandbox through its proxy and reports refusals with the exec they happened in', async () => {
    const def = define(`allow:${LO}:${servers.web},example.com`);
    const h = await engine.start(def);
    started.push(h);
    const ok = await exec(h, FETCH_PY, `http://${LO}:${servers.web}/kept`);
    expect(ok.stdout.trim()).toBe(`hello from ${servers.web} host=${LO}:${servers.web} path=/kept`);
    expect(ok.networkDenied).toBeUndefined();
    const refused = await exec(h, FETCH_PY, `http://${LO}:${servers.other}/`);
    expect(refused.stdout).toMatch(/^HTTP 403 /);
    expect(refused.networkDenied).toEqual([expect.objectContaining({ host: LO, port: servers.other, reason: 'port', count: 1 })]);
    const after = await exec(h, FETCH_PY, `http://${LO}:${servers.web}/again`);
    expect(after.networkDenied).toBeUndefined(); // an exec's result names only what happened while it ran
  });

  it('is served again by an engine that adopts the sandbox (a restarted daemon), from the socket its helper kept', async () => {
    const def = define(`allow:${LO}:${servers.web}`);
    const first = new SandboxEngine({ host, log });
    const h = await first.start(def);
    started.push(h);
    expect((await execOn(first, h, FETCH_PY, `http://${LO}:${servers.web}/first`)).stdout).toContain('path=/first');
    await first.closeEgress(); // the old daemon is gone; connections now wait in the helper's backlog
    const pending = execOn(first, h, FETCH_PY, `http://${LO}:${servers.web}/waited`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    engine.adopt(def, h);
    expect((await pending).stdout.trim()).toBe(`hello from ${servers.web} host=${LO}:${servers.web} path=/waited`);
  });

  it('refuses a bad allowlist before anything starts', async () => {
    await expect(engine.run(define('allow:exa mple.com', ['/bin/true']), { stdio: ['ignore', 'ignore', 'ignore'] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(engine.start(define('allow:*'))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
