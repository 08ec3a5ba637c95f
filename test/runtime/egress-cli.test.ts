/**
 * `bkg run --rm --network allow:…` as a user runs it (the real CLI, its in-process egress proxy, the
 * real helper): the allowed host answers, refusals are named on stderr and listed in --json's
 * `network_denied`, a bad allowlist is refused naming the flag, and `bkg add --network allow:…`
 * writes cave.yaml's object form.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bkg } from '../helpers/cli.js';
import { FETCH_PY, HOST_LOOPBACK as LO, startHostServers, type HostServers } from '../helpers/egress.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();

describe.skipIf(skip)('bkg run --rm --network allow:…', () => {
  let servers: HostServers;
  let home: string;
  const env = () => ({ BKG_HOME: home, NO_COLOR: '1' });

  beforeAll(async () => {
    servers = await startHostServers();
    home = mkdtempSync(join(tmpdir(), 'bkg-egress-cli-'));
  });
  afterAll(async () => {
    await servers?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('reaches the allowed host and names every refusal on stderr and in --json', async () => {
    const network = `allow:${LO}:${servers.web}`;
    const ok = await bkg(['run', '--rm', '--network', network, '--', 'python3', '-c', FETCH_PY, `http://${LO}:${servers.web}/cli`], { env: env() });
    expect(ok.stdout.trim()).toBe(`hello from ${servers.web} host=${LO}:${servers.web} path=/cli`);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toBe('');

    const refused = await bkg(['run', '--rm', '--network', network, '--', 'python3', '-c', FETCH_PY, `http://${LO}:${servers.other}/`], { env: env() });
    expect(refused.stdout).toMatch(/^HTTP 403 bkg: NETWORK_DENIED/);
    expect(refused.stderr).toBe(`bkg: NETWORK_DENIED: ${LO}:${servers.other}: ${LO} is allowed on port ${servers.web} only, not ${servers.other}\n`);
    expect(refused.code).toBe(0); // the command decides its exit code; the refusal is reported, not fatal

    const json = await bkg(['run', '--rm', '--json', '--network', network, '--', 'python3', '-c', FETCH_PY, 'http://example.com/'], { env: env() });
    const body = JSON.parse(json.stdout) as { stdout: string; network_denied: unknown[] };
    expect(body.stdout).toMatch(/^HTTP 403 /);
    expect(body.network_denied).toEqual([{ code: 'NETWORK_DENIED', host: 'example.com', port: 80, reason: 'not_allowed', message: "example.com is not on this sandbox's allowlist", at: expect.any(String), count: 1 }]);
    expect(servers.hits.other).toBe(0);
  });

  it('refuses a bad allowlist naming the flag, before anything runs', async () => {
    const r = await bkg(['run', '--rm', '--network', 'allow:pypi.org,*', '--', 'true'], { env: env() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('bkg: --network: "*" has a * that is not a leading "*." (only *.DOMAIN wildcards exist)');
    const mode = await bkg(['run', '--rm', '--network', 'open', '--', 'true'], { env: env() });
    expect(mode.code).toBe(2);
    expect(mode.stderr).toContain('--network: "open" is not a network (none, host, or allow:HOST[:PORT],…)');
  });

  it('bkg add --network allow:… writes the allowlist to cave.yaml as {allow: [...]}', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bkg-egress-cave-'));
    try {
      writeFileSync(join(dir, 'cave.yaml'), 'project: demo\nversion: 1\n');
      const r = await bkg(['add', 'web', '--network', 'allow:PyPI.org,*.pythonhosted.org:443'], { env: env(), cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      expect(readFileSync(join(dir, 'cave.yaml'), 'utf8')).toContain('network:\n      allow:\n        - pypi.org\n        - "*.pythonhosted.org:443"\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
