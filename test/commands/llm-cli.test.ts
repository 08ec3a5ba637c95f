/** `bkg llm …` through bin/run.js against a daemon it starts: pull, ls, request, approve, revoke, rm. */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bkg } from '../helpers/cli.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';
import { modelSkipReason, TEST_MODEL } from '../helpers/model.js';

const skip = sandboxSkipReason() ?? modelSkipReason();

describe.skipIf(skip)('bkg llm', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const run = (args: string[]) => bkg(args, { cwd: dir, env });
  const json = async (args: string[]) => {
    const r = await run([...args, '--json']);
    return { code: r.code, body: JSON.parse(r.stdout) as Record<string, unknown>, stderr: r.stderr };
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bkg-llmcli-'));
    env = { BKG_HOME: join(dir, 'home'), BKG_PORT: '0' };
    copyFileSync(TEST_MODEL, join(dir, 'stories260K.gguf'));
  });
  afterAll(async () => {
    await run(['daemon', 'stop']);
    rmSync(dir, { recursive: true, force: true });
  });

  it('pulls, lists, grants, revokes and removes', async () => {
    const bad = await json(['llm', 'pull', join(dir, 'stories260K.gguf'), '--sha256', '0'.repeat(64)]);
    expect(bad.code).toBe(2);
    expect(bad.body).toMatchObject({ error: { code: 'MODEL_VERIFICATION_FAILED' } });
    const pulled = await json(['llm', 'pull', join(dir, 'stories260K.gguf'), '--name', 'stories']);
    expect(pulled.code).toBe(0);
    expect((await json(['llm', 'ls'])).body).toMatchObject({ models: [{ id: 'stories', sha256: '270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d' }] });
    const req = await json(['llm', 'request-access', 'stories', '--namespace', 'default']);
    expect(req.body).toMatchObject({ status: 'pending' });
    const approved = await json(['llm', 'approve', String(req.body.id), '--scopes', 'chat', '--ttl', '10m', '--rpm', '30']);
    expect(String(approved.body.token).split('.')).toHaveLength(3);
    expect((await json(['llm', 'requests'])).body).toMatchObject({ requests: [{ status: 'approved' }] });
    expect((await run(['llm', 'revoke', String(approved.body.token_id)])).code).toBe(0);
    expect((await run(['llm', 'revoke', 'tok_nope'])).code).toBe(2);
    expect((await run(['llm', 'gc', '--max', '1k'])).code).toBe(0); // least recently used goes first: the only one
    expect((await json(['llm', 'ls'])).body).toEqual({ models: [] });
    expect((await run(['llm', 'pull', join(dir, 'stories260K.gguf'), '--name', 'stories'])).code).toBe(0);
    expect((await run(['llm', 'rm', 'stories'])).code).toBe(0);
    expect((await json(['llm', 'ls'])).body).toEqual({ models: [] });
  });
});
