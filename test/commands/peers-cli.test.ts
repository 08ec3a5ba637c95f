/** `bkg peers …` and `bkg daemon start --p2p` through bin/run.js, two daemons on 127.0.0.1 that trust each other. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bkg } from '../helpers/cli.js';

describe('bkg peers', () => {
  let dir: string;
  const env = (h: 'a' | 'b'): NodeJS.ProcessEnv => ({ BKG_HOME: join(dir, h), BKG_PORT: '0' });
  const run = (h: 'a' | 'b', args: string[]) => bkg(args, { cwd: dir, env: env(h) });
  const json = async (h: 'a' | 'b', args: string[]) => {
    const r = await run(h, [...args, '--json']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bkg-peerscli-'));
  });
  afterAll(async () => {
    await Promise.all([run('a', ['daemon', 'stop']), run('b', ['daemon', 'stop'])]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('init, status, add, ls, rm; a bare name no peer holds is an error that says so', async () => {
    for (const h of ['a', 'b'] as const) expect((await run(h, ['daemon', 'start', '--p2p', '--p2p-listen', '/ip4/127.0.0.1/tcp/0'])).code).toBe(0);
    // A makes the network key; B takes it
    const a = await json('a', ['peers', 'init']);
    expect(a).toMatchObject({ identity_created: true, network_key_created: true });
    const b = await json('b', ['peers', 'init', '--network-key', join(dir, 'a', 'p2p', 'swarm.key')]);
    expect(b).toMatchObject({ identity_created: true, network_key_created: false, network_key_fingerprint: a.network_key_fingerprint });
    const text = await run('a', ['peers', 'status']);
    expect(text.stdout).toMatch(/^P2P: +on$/m);
    expect(text.stdout).toContain(String(a.peer_id));
    const sa = await json('a', ['peers', 'status']);
    const sb = await json('b', ['peers', 'status']);
    expect(sa).toMatchObject({ enabled: true, trusted: 0 });
    expect((await run('a', ['peers', 'add', (sb.listen as string[])[0] as string, '--name', 'b'])).code).toBe(0);
    expect((await run('b', ['peers', 'add', (sa.listen as string[])[0] as string])).code).toBe(0);
    let listed: { peers: { peer_id: string; name: string; connected: boolean; models: unknown[] | null }[] } = { peers: [] };
    for (let i = 0; i < 100 && !listed.peers[0]?.connected; i++) {
      listed = (await json('a', ['peers', 'ls'])) as typeof listed;
      if (!listed.peers[0]?.connected) await new Promise((r) => setTimeout(r, 200));
    }
    expect(listed.peers).toMatchObject([{ peer_id: sb.peer_id, name: 'b', connected: true, models: [] }]);
    expect((await run('a', ['peers', 'ls'])).stdout).toMatch(/yes/);
    // automatic fallback: a bare name that is no file here goes to the peers, and says so when none holds it
    const missing = await run('a', ['llm', 'pull', 'no-such-model']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no trusted peer holds a model of that name/);
    expect((await run('a', ['peers', 'rm', String(sb.peer_id)])).code).toBe(0);
    const again = await run('a', ['peers', 'rm', String(sb.peer_id)]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/NOT_FOUND|no trusted peer/);
  }, 120_000);
});
