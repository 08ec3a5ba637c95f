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

  /** `llm pull --json` streams one JSON object per line (progress events, test/cli/progress-cli.test.ts): its last line is the outcome. */
  const pull = async (args: string[]) => {
    const r = await run(['llm', 'pull', ...args, '--json']);
    return { code: r.code, body: JSON.parse(r.stdout.trimEnd().split('\n').pop() ?? '') as Record<string, unknown>, stderr: r.stderr };
  };

  it('pulls, lists, grants, revokes and removes', async () => {
    const bad = await pull([join(dir, 'stories260K.gguf'), '--sha256', '0'.repeat(64)]);
    expect(bad.code).toBe(2);
    expect(bad.body).toMatchObject({ error: { code: 'MODEL_VERIFICATION_FAILED' } });
    const pulled = await pull([join(dir, 'stories260K.gguf'), '--name', 'stories']);
    expect(pulled.code).toBe(0);
    expect(pulled.body).toMatchObject({ type: 'result', status: 'done', model_id: 'stories' });
    expect((await json(['llm', 'ls'])).body).toMatchObject({ models: [{ id: 'stories', sha256: '270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d' }] });
    const req = await json(['llm', 'request-access', 'stories', '--namespace', 'default']);
    expect(req.body).toMatchObject({ status: 'pending' });
    const approved = await json(['llm', 'approve', String(req.body.id), '--scopes', 'chat', '--ttl', '10m', '--rpm', '30']);
    expect(String(approved.body.token).split('.')).toHaveLength(3);
    expect((await json(['llm', 'requests'])).body).toMatchObject({ requests: [{ status: 'approved' }] });
    // without --json: stdout carries only the key, the words go to stderr
    const req2 = await json(['llm', 'request-access', 'stories', '--namespace', 'default']);
    const plain = await run(['llm', 'approve', String(req2.body.id)]);
    expect(plain.stdout.trim().split('.')).toHaveLength(3);
    expect(plain.stdout.trim()).not.toContain(' ');
    expect(plain.stderr).toContain('shown only now');
    // chat, streamed: as the admin, and with the model-access key for its namespace
    const told = await run(['llm', 'chat', 'stories', 'Once upon a time', '--max-tokens', '20', '--temperature', '0']);
    expect(told.code).toBe(0);
    expect(told.stdout.trim().length).toBeGreaterThan(10);
    const viaKey = await bkg(['llm', 'chat', 'stories', '--max-tokens', '20', '--temperature', '0', '--key', plain.stdout.trim(), '--namespace', 'default'], { cwd: dir, env, input: 'Once upon a time' });
    expect(viaKey.code).toBe(0);
    expect(viaKey.stdout).toBe(told.stdout); // the same greedy reply
    const asJson = await json(['llm', 'chat', 'stories', 'Once upon a time', '--max-tokens', '20', '--temperature', '0']);
    expect(asJson.body).toMatchObject({ reply: told.stdout.trimEnd(), done: true, usage: { completion_tokens: expect.any(Number) } });
    const wrongNs = await bkg(['llm', 'chat', 'stories', 'hi', '--key', plain.stdout.trim(), '--namespace', 'other'], { cwd: dir, env });
    expect(wrongNs.code).toBe(4);
    expect((await run(['llm', 'revoke', String(approved.body.token_id)])).code).toBe(0);
    expect((await run(['llm', 'revoke', 'tok_nope'])).code).toBe(2);
    const gc = await run(['llm', 'gc', '--max', '1k']); // least recently used goes first: the only one
    expect(gc.code).toBe(0);
    expect(gc.stdout).toMatch(/^removed model evicted \(least recently used\) stories \(\d+(\.\d)? [KM]iB\)\nfreed /);
    expect((await json(['llm', 'ls'])).body).toEqual({ models: [] });
    expect((await run(['llm', 'pull', join(dir, 'stories260K.gguf'), '--name', 'stories'])).code).toBe(0);
    expect((await run(['llm', 'rm', 'stories'])).code).toBe(0);
    expect((await json(['llm', 'ls'])).body).toEqual({ models: [] });
  });
});
