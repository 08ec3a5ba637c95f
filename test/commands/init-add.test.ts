/** `bkg init` and `bkg add` end to end through bin/run.js: files written, JSON results, errors and exit codes. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadCaveConfig } from '../../src/api/cave-config.js';
import { bkg } from '../helpers/cli.js';

let cwd: string;

beforeEach(() => {
  cwd = join(mkdtempSync(join(tmpdir(), 'bkg-init-')), 'my app');
  mkdirSync(cwd);
});

afterEach(() => rmSync(join(cwd, '..'), { recursive: true, force: true }));

const run = (args: string[]) => bkg(args, { cwd });

function json(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout) as Record<string, unknown>;
}

function errorOf(stdout: string): { code: string; message: string; hint: string } {
  return (json(stdout) as { error: { code: string; message: string; hint: string } }).error;
}

describe('bkg init', () => {
  it('writes a commented cave.yaml named after the directory', async () => {
    const r = await run(['init']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Created cave.yaml for project my-app');
    expect(r.stderr).toBe('');
    const text = readFileSync(join(cwd, 'cave.yaml'), 'utf8');
    expect(text).toMatch(/^# cave\.yaml/);
    expect(text).toContain('#     limits:');
    const c = await loadCaveConfig(join(cwd, 'cave.yaml'));
    expect([c.project, c.version, c.sandboxes]).toEqual(['my-app', 1, []]);
  });

  it('prints one JSON result and refuses to overwrite without --force (CONFLICT, exit 2)', async () => {
    const first = await run(['init', '--project', 'demo', '--json']);
    expect(first.code).toBe(0);
    expect(json(first.stdout)).toEqual({ path: join(cwd, 'cave.yaml'), project: 'demo' });

    writeFileSync(join(cwd, 'cave.yaml'), 'project: mine\nversion: 1\n');
    const again = await run(['init', '--json']);
    expect(again.code).toBe(2);
    expect(errorOf(again.stdout)).toMatchObject({ code: 'CONFLICT', message: 'cave.yaml already exists' });
    expect(errorOf(again.stdout).hint).toContain('--force');
    expect(readFileSync(join(cwd, 'cave.yaml'), 'utf8')).toBe('project: mine\nversion: 1\n');

    const human = await run(['init']);
    expect(human.code).toBe(2);
    expect(human.stdout).toBe('');
    expect(human.stderr).toContain('bkg: cave.yaml already exists');

    const forced = await run(['init', '--force', '--project', 'other']);
    expect(forced.code).toBe(0);
    expect((await loadCaveConfig(join(cwd, 'cave.yaml'))).project).toBe('other');
  });

  it('quotes project names YAML would read as something else', async () => {
    expect((await run(['init', '--project', 'true'])).code).toBe(0);
    expect((await loadCaveConfig(join(cwd, 'cave.yaml'))).project).toBe('true');
  });

  it('rejects an invalid --project (INVALID_ARGUMENT, exit 2)', async () => {
    const r = await run(['init', '--project', 'no spaces', '--json']);
    expect(r.code).toBe(2);
    expect(errorOf(r.stdout)).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(errorOf(r.stdout).message).toContain('--project');
  });
});

describe('bkg add', () => {
  it('adds sandboxes in the API\'s units, keeping the template\'s comments', async () => {
    expect((await run(['init', '--project', 'demo'])).code).toBe(0);
    mkdirSync(join(cwd, 'src'));
    const r = await run([
      'add', 'web', '--runtime', 'python', '--memory', '256m', '--cpus', '0.5', '--pids', '64', '--disk', '1g',
      '--timeout', '1h', '--idle-timeout', '10m', '--network', 'host', '--env', 'A=1', '-e', 'B=x=y', '--workspace', 'src', '--json',
    ]);
    expect(r.code).toBe(0);
    const sandbox = {
      name: 'web', runtime: 'python', network: 'host', workspace: join(cwd, 'src'), env: { A: '1', B: 'x=y' },
      limits: { memory_mb: 256, cpus: 0.5, pids: 64, disk_mb: 1024, timeout_s: 3600, idle_timeout_s: 600 },
    };
    expect(json(r.stdout)).toEqual({ path: join(cwd, 'cave.yaml'), project: 'demo', sandbox });

    const human = await run(['add', 'db']);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('Added db to cave.yaml');

    const text = readFileSync(join(cwd, 'cave.yaml'), 'utf8');
    expect(text).toContain('# cave.yaml: this project');
    expect(text).toContain('    workspace: src\n');
    const c = await loadCaveConfig(join(cwd, 'cave.yaml'));
    expect(c.sandboxes).toEqual([sandbox, { name: 'db' }]);
  });

  it('refuses a duplicate name (CONFLICT, exit 2)', async () => {
    await run(['init']);
    expect((await run(['add', 'web'])).code).toBe(0);
    const r = await run(['add', 'web', '--json']);
    expect(r.code).toBe(2);
    expect(errorOf(r.stdout)).toMatchObject({ code: 'CONFLICT', message: 'sandbox "web" is already in cave.yaml' });
  });

  it.each([
    [['add', 'web', '--memory', '8m'], 'INVALID_ARGUMENT', '--memory: "8m" is 8 MiB, below the minimum of 16 MiB'],
    [['add', 'web', '--memory', '1500k'], 'INVALID_ARGUMENT', '--memory: "1500k" is 1.5 MiB, below the minimum of 16 MiB'],
    [['add', 'web', '--memory', 'lots'], 'INVALID_ARGUMENT', '--memory: "lots" is not a size'],
    [['add', 'web', '--timeout', '500ms'], 'INVALID_ARGUMENT', '--timeout: "500ms" is not a whole number of seconds'],
    [['add', 'web', '--cpus', '0'], 'INVALID_ARGUMENT', '--cpus'],
    [['add', 'web', '--env', 'NOEQUALS'], 'INVALID_ARGUMENT', '--env: "NOEQUALS" must look like KEY=VALUE'],
    [['add', 'web', '--runtime', 'ruby'], 'INVALID_ARGUMENT', 'ruby'],
    [['add', 'bad name'], 'INVALID_ARGUMENT', 'NAME: "bad name" must match'],
    [['add', 'web', '--workspace', 'nope'], 'WORKSPACE_INVALID', 'is not an existing directory'],
  ])('%j → %s (exit 2)', async (args, code, message) => {
    await run(['init']);
    const r = await run([...args, '--json']);
    expect(r.code).toBe(2);
    expect(errorOf(r.stdout).code).toBe(code);
    expect(errorOf(r.stdout).message).toContain(message);
    expect((await loadCaveConfig(join(cwd, 'cave.yaml'))).sandboxes).toEqual([]);
  });

  it('needs a cave.yaml (NOT_FOUND, exit 2) and reports an invalid one (INVALID_CONFIG, exit 2)', async () => {
    const missing = await run(['add', 'web', '--json']);
    expect(missing.code).toBe(2);
    expect(errorOf(missing.stdout)).toMatchObject({ code: 'NOT_FOUND', message: 'cave.yaml: no such file' });

    writeFileSync(join(cwd, 'cave.yaml'), 'project: demo\nversion: 1\nsandboxes:\n  - name: web\n    limits: { memory_mb: 8 }\n');
    const bad = await run(['add', 'db']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('bkg: cave.yaml: sandboxes[0].limits.memory_mb: must be at least 16');

    writeFileSync(join(cwd, 'cave.yaml'), 'project: demo\nversion: 1\nsandboxes: [\n');
    const syntax = await run(['add', 'db', '--json']);
    expect(syntax.code).toBe(2);
    expect(errorOf(syntax.stdout).message).toMatch(/^cave\.yaml: line \d+, column \d+: YAML syntax error/);
  });

  it('edits another file with --file', async () => {
    expect((await run(['init', '--file', 'other.yaml', '--project', 'o'])).code).toBe(0);
    expect((await run(['add', 'x', '--file', 'other.yaml'])).code).toBe(0);
    expect((await loadCaveConfig(join(cwd, 'other.yaml'))).sandboxes).toEqual([{ name: 'x' }]);
  });
});
