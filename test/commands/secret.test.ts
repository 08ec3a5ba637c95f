/**
 * `bkg secret set|ls|rm` and `--secret` through the real CLI (bin/run.js) against a daemon it
 * starts: values from stdin or --file only, never from argv; names only in every output; a sandbox
 * of cave.yaml receiving them; a namespace key held to its namespace, a read-only key to nothing.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bkg, type CliResult } from '../helpers/cli.js';
import { freePort } from '../helpers/daemon.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();

describe.skipIf(skip)('bkg secret', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let asKey: (key: string) => NodeJS.ProcessEnv;
  const outputs: CliResult[] = [];
  const stdinValue = `stdin-${randomBytes(12).toString('hex')}`;
  const fileValue = `file-${randomBytes(12).toString('hex')}\nsecond line\n`;
  const run = async (args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> => {
    const r = await bkg(args, { cwd: dir, env: opts.env ?? env, ...(opts.input === undefined ? {} : { input: opts.input }) });
    outputs.push(r);
    return r;
  };
  const errorOf = (r: CliResult): { code: string; message: string; hint: string } => (JSON.parse(r.stdout) as { error: { code: string; message: string; hint: string } }).error;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bkg-secret-cli-'));
    chmodSync(dir, 0o755);
    const port = await freePort();
    env = { BKG_HOME: join(dir, 'home'), BKG_PORT: String(port), BKG_API_URL: '', BKG_API_KEY: '' };
    asKey = (key) => ({ ...env, BKG_API_URL: `http://127.0.0.1:${port}`, BKG_API_KEY: key });
  });
  afterAll(async () => {
    await bkg(['daemon', 'stop'], { cwd: dir, env });
    rmSync(dir, { recursive: true, force: true });
  });

  it('sets a secret from stdin (one trailing newline dropped) and from --file (bytes as they are), printing no value', async () => {
    const set = await run(['secret', 'set', 'FROM_STDIN'], { input: `${stdinValue}\n` });
    expect(set.stderr).toContain('Set secret FROM_STDIN in namespace default (sealed; its value is never shown).');
    expect(set.code).toBe(0);
    expect(set.stdout).toBe('');
    writeFileSync(join(dir, 'value.txt'), fileValue);
    const json = await run(['secret', 'set', 'FROM_FILE', '--file', join(dir, 'value.txt'), '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ name: 'FROM_FILE', namespace: 'default', created_at: expect.any(String), updated_at: expect.any(String), updated_by: 'host' });
  });

  it('refuses a value on the command line, an empty value and a bad name, saying what to do', async () => {
    const positional = await run(['secret', 'set', 'TOKEN', 'hunter2']);
    expect(positional.code).toBe(2);
    expect(positional.stderr).toContain('a secret\'s value is never taken from the command line');
    expect(positional.stderr).toContain('printf %s "$VALUE" | bkg secret set TOKEN');
    const flag = await run(['secret', 'set', 'TOKEN', '--value', 'hunter2', '--json']);
    expect(flag.code).toBe(2);
    expect(errorOf(flag)).toMatchObject({ code: 'INVALID_ARGUMENT', hint: expect.stringContaining('--file PATH') });
    const empty = await run(['secret', 'set', 'TOKEN'], { input: '' });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('no value for TOKEN: stdin was empty');
    const bad = await run(['secret', 'set', 'not-a-name'], { input: 'x' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('NAME: "not-a-name" is not a valid secret name');
    const list = await run(['secret', 'ls', '--json']);
    expect((JSON.parse(list.stdout) as { secrets: { name: string }[] }).secrets.map((s) => s.name)).not.toContain('TOKEN');
  });

  it('lists names and times, never values (table and --json)', async () => {
    const table = await run(['secret', 'ls']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^NAME +NAMESPACE +CREATED +UPDATED +UPDATED BY\n/);
    expect(table.stdout).toMatch(/\nFROM_FILE +default +\d+s ago +\d+s ago +host\n/);
    expect(table.stdout).toMatch(/\nFROM_STDIN +default /);
    const json = JSON.parse((await run(['secret', 'ls', '--json'])).stdout) as { secrets: Record<string, unknown>[] };
    expect(json.secrets.map((s) => Object.keys(s).sort())).toEqual([['created_at', 'name', 'namespace', 'updated_at', 'updated_by'], ['created_at', 'name', 'namespace', 'updated_at', 'updated_by']]);
  });

  it('gives a cave.yaml sandbox its secrets (--secret on bkg add) as variables and files', async () => {
    expect((await run(['init'])).code).toBe(0);
    const add = await run(['add', 'app', '--secret', 'FROM_STDIN', '--secret', 'FROM_STDIN=OTHER', '--secret', 'FROM_FILE:file']);
    expect(add.code, add.stderr).toBe(0);
    expect(readFileSync(join(dir, 'cave.yaml'), 'utf8')).toMatch(/secrets:\n\s+- name: FROM_STDIN\n\s+- name: FROM_STDIN\n\s+env: OTHER\n\s+- name: FROM_FILE\n\s+file: true\n/);
    // the one output that holds the values (left out of `outputs`): the sandbox's own, to its caller
    const r = await bkg(['run', 'app', '--', 'sh', '-c', 'printf "%s|%s|" "$FROM_STDIN" "$OTHER"; cat /run/secrets/FROM_FILE'], { cwd: dir, env });
    expect(r.stderr).toBe('bkg: created app\nbkg: started app\n');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${stdinValue}|${stdinValue}|${fileValue}`);

    const shown = JSON.parse((await run(['ls', '--json'])).stdout) as { sandboxes: { name: string; secrets?: unknown }[] };
    expect(shown.sandboxes.find((s) => s.name === 'app')?.secrets).toEqual([{ name: 'FROM_STDIN' }, { name: 'FROM_STDIN', env: 'OTHER' }, { name: 'FROM_FILE', file: true }]);
  });

  it('names --secret in its errors: a bad form, a missing secret, a throwaway sandbox, a project sandbox', async () => {
    const form = await run(['add', 'bad', '--secret', 'A=B=C']);
    expect(form.code).toBe(2);
    expect(form.stderr).toContain('--secret: "A=B=C"');
    expect(form.stderr).toContain('NAME:file');
    expect((await run(['add', 'needs', '--secret', 'NOT_SET'])).code).toBe(0);
    const missing = await run(['run', 'needs', '--json']);
    expect(missing.code).toBe(2);
    expect(errorOf(missing)).toMatchObject({ code: 'NOT_FOUND', message: 'no secret "NOT_SET" in namespace "default"', hint: expect.stringContaining('bkg secret set NOT_SET') });
    const rm = await run(['run', '--rm', '--secret', 'FROM_STDIN', '--', 'true']);
    expect(rm.code).toBe(2);
    expect(rm.stderr).toContain('--secret does not apply to a throwaway sandbox');
    const project = await run(['run', 'app', '--secret', 'FROM_STDIN']);
    expect(project.code).toBe(2);
    expect(project.stderr).toContain('--secret does not apply to "bkg run app"');
  });

  it('holds a namespace key to its namespace, and a read-only key away from secrets', async () => {
    const ci = (await run(['key', 'create', 'ci', '--role', 'namespace', '--namespace', 'ci'])).stdout.trim();
    const ro = (await run(['key', 'create', 'ro', '--role', 'readonly'])).stdout.trim();
    const set = await run(['secret', 'set', 'CI_TOKEN', '--json'], { input: 'ci-value', env: asKey(ci) });
    expect(set.code, set.stdout).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ name: 'CI_TOKEN', namespace: 'ci' });
    const list = JSON.parse((await run(['secret', 'ls', '--json'], { env: asKey(ci) })).stdout) as { secrets: { name: string }[] };
    expect(list.secrets.map((s) => s.name)).toEqual(['CI_TOKEN']);
    const elsewhere = await run(['secret', 'set', 'X', '--namespace', 'default'], { input: 'x', env: asKey(ci) });
    expect(elsewhere.code).toBe(4);
    expect(elsewhere.stderr).toContain('may not act in namespace "default"');
    for (const args of [['secret', 'ls'], ['secret', 'rm', 'CI_TOKEN']]) {
      const r = await run(args, { env: asKey(ro) });
      expect(r.code, args.join(' ')).toBe(4);
      expect(r.stderr).toContain('read-only keys cannot');
    }
    expect((await run(['secret', 'set', 'X'], { input: 'x', env: asKey(ro) })).code).toBe(4);
    const admin = JSON.parse((await run(['secret', 'ls', '--namespace', 'ci', '--json'])).stdout) as { secrets: { name: string; namespace: string }[] };
    expect(admin.secrets).toEqual([expect.objectContaining({ name: 'CI_TOKEN', namespace: 'ci' })]);
  });

  it('removes a secret (NOT_FOUND the second time), and no output of any command held a value', async () => {
    const rm = await run(['secret', 'rm', 'FROM_FILE']);
    expect(rm.code).toBe(0);
    expect(rm.stderr).toContain('Removed secret FROM_FILE.');
    const again = await run(['secret', 'rm', 'FROM_FILE']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('no secret "FROM_FILE" in namespace "default"');
    expect(outputs.length).toBeGreaterThan(20);
    for (const o of outputs) {
      for (const v of [stdinValue, fileValue.split('\n')[0] as string, 'ci-value']) {
        expect(`${o.stdout}${o.stderr}`.includes(v), `a value in: ${o.stdout}${o.stderr}`).toBe(false);
      }
    }
  });
});
