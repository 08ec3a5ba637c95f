/** cave.yaml: strict validation naming the file and the field, YAML syntax errors naming the line, comment-keeping saves. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCaveConfig, saveCaveConfig } from '../../src/api/cave-config.js';
import { BkgError } from '../../src/api/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'bkg-cave-'));
let n = 0;

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Write `text` to a fresh <dir>/<n>/cave.yaml and return its path. */
function file(text: string): string {
  const d = join(dir, String(n++));
  mkdirSync(d);
  const path = join(d, 'cave.yaml');
  writeFileSync(path, text);
  return path;
}

async function loadError(text: string): Promise<BkgError> {
  const path = file(text);
  try {
    await loadCaveConfig(path);
  } catch (err) {
    expect(err).toBeInstanceOf(BkgError);
    return err as BkgError;
  }
  throw new Error(`expected ${text} to be rejected`);
}

const HEAD = 'project: demo\nversion: 1\n';

describe('loadCaveConfig', () => {
  it('reads a valid file, resolving workspaces against its directory', async () => {
    const path = file(`${HEAD}sandboxes:
  - name: web
    runtime: python
    network: none
    workspace: ./app
    env: { LOG_LEVEL: debug }
    limits: { memory_mb: 256, cpus: 0.5, pids: 64, disk_mb: 1024, timeout_s: 3600, idle_timeout_s: 600 }
  - name: db
`);
    const c = await loadCaveConfig(path);
    expect(c.project).toBe('demo');
    expect(c.version).toBe(1);
    expect(c.path).toBe(path);
    expect(c.sandboxes).toEqual([
      {
        name: 'web', runtime: 'python', network: 'none', workspace: join(path, '..', 'app'), env: { LOG_LEVEL: 'debug' },
        limits: { memory_mb: 256, cpus: 0.5, pids: 64, disk_mb: 1024, timeout_s: 3600, idle_timeout_s: 600 },
      },
      { name: 'db' },
    ]);
  });

  it('treats a missing sandboxes list as empty', async () => {
    expect((await loadCaveConfig(file(HEAD))).sandboxes).toEqual([]);
  });

  it.each([
    ['a limit below its minimum', `${HEAD}sandboxes:\n  - name: web\n    limits: { memory_mb: 8 }\n`, 'sandboxes[0].limits.memory_mb: must be at least 16'],
    ['a fractional whole number', `${HEAD}sandboxes:\n  - name: web\n    limits: { pids: 1.5 }\n`, 'sandboxes[0].limits.pids: must be a whole number'],
    ['an unknown limit', `${HEAD}sandboxes:\n  - name: web\n    limits: { memory: 256 }\n`, 'sandboxes[0].limits.memory: is not a known field'],
    ['an unknown sandbox field', `${HEAD}sandboxes:\n  - name: web\n  - name: db\n    image: alpine\n`, 'sandboxes[1].image: is not a known field'],
    ['an unknown top-level field', `${HEAD}services: []\n`, 'services: is not a known field'],
    ['a missing project', 'version: 1\n', 'project: is required'],
    ['a missing version', 'project: demo\n', 'version: is required'],
    ['another version', 'project: demo\nversion: 2\n', 'version: must be 1'],
    ['a bad project name', 'project: "my project"\nversion: 1\n', 'project: must match'],
    ['a missing sandbox name', `${HEAD}sandboxes:\n  - runtime: python\n`, 'sandboxes[0].name: is required'],
    ['a bad sandbox name', `${HEAD}sandboxes:\n  - name: -web\n`, 'sandboxes[0].name: must match'],
    ['a numeric sandbox name', `${HEAD}sandboxes:\n  - name: 42\n`, 'sandboxes[0].name: must be a string, not a number'],
    ['a duplicate sandbox name', `${HEAD}sandboxes:\n  - name: web\n  - name: web\n`, 'sandboxes[1].name: "web" is already the name of sandboxes[0]'],
    ['an unknown runtime', `${HEAD}sandboxes:\n  - name: web\n    runtime: ruby\n`, 'sandboxes[0].runtime: must be one of shell, python, node'],
    ['an unknown network', `${HEAD}sandboxes:\n  - name: web\n    network: bridge\n`, 'sandboxes[0].network: "bridge" is not a network (none, host, or allow:HOST[:PORT],…)'],
    ['a non-string env value', `${HEAD}sandboxes:\n  - name: web\n    env: { PORT: 8080 }\n`, 'sandboxes[0].env.PORT: must be a string, not a number'],
    ['a bad env name', `${HEAD}sandboxes:\n  - name: web\n    env: { "1X": a }\n`, 'sandboxes[0].env["1X"]: is not a valid variable name'],
    ['an empty workspace', `${HEAD}sandboxes:\n  - name: web\n    workspace: ""\n`, 'sandboxes[0].workspace: must be at least 1 characters'],
    ['sandboxes as a mapping', `${HEAD}sandboxes: { web: {} }\n`, 'sandboxes: must be an array, not an object'],
    ['an empty file', '', 'must be a mapping with project, version and sandboxes, but it is empty'],
    ['a list', '- a\n- b\n', 'must be a mapping with project, version and sandboxes, but it is a list'],
  ])('rejects %s, naming the file and field', async (_what, text, expected) => {
    const e = await loadError(text);
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain(`cave.yaml: ${expected}`);
    expect(e.details?.file).toMatch(/cave\.yaml$/);
  });

  it('names the line and column of a YAML syntax error', async () => {
    const e = await loadError(`${HEAD}sandboxes:\n  - name: web\n    limits: { memory_mb: 256\n  - name: db\n`);
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toMatch(/cave\.yaml: line \d+, column \d+: YAML syntax error: /);
    expect(e.details?.line).toBeGreaterThanOrEqual(5);
  });

  it('reports a duplicate key with its line', async () => {
    const e = await loadError('project: demo\nversion: 1\nproject: other\n');
    expect(e.message).toContain('line 3, column 1: YAML syntax error: Map keys must be unique');
    expect(e.details?.line).toBe(3);
  });

  it('is NOT_FOUND, pointing at bkg init, when there is no file', async () => {
    let err: unknown;
    try {
      await loadCaveConfig(join(dir, 'absent', 'cave.yaml'));
    } catch (e) {
      err = e;
    }
    expect((err as BkgError).code).toBe('NOT_FOUND');
    expect((err as BkgError).hint).toContain('bkg init');
  });
});

describe('saveCaveConfig', () => {
  it('keeps comments and unchanged entries, stores workspaces relative to the file', async () => {
    const path = file(`# my project
${HEAD}sandboxes:
  # the web app
  - name: web
    workspace: ./app   # the code
  - name: old
`);
    const c = await loadCaveConfig(path);
    const d = join(path, '..');
    await saveCaveConfig(path, {
      ...c,
      sandboxes: [...c.sandboxes.filter((s) => s.name !== 'old'), { name: 'new', workspace: join(d, 'data'), limits: { memory_mb: 64 } }],
    });
    const text = readFileSync(path, 'utf8');
    expect(text).toContain('# my project');
    expect(text).toContain('# the web app');
    expect(text).toContain('workspace: ./app # the code');
    expect(text).not.toContain('old');
    expect(text).toContain('  - name: new\n    workspace: data\n    limits:\n      memory_mb: 64\n');
    const again = await loadCaveConfig(path);
    expect(again.sandboxes.map((s) => [s.name, s.workspace])).toEqual([['web', join(d, 'app')], ['new', join(d, 'data')]]);
  });

  it('writes a new file, and refuses invalid contents without touching an existing one', async () => {
    const path = join(dir, 'fresh.yaml');
    await saveCaveConfig(path, { project: 'p', version: 1, sandboxes: [{ name: 'a', workspace: dir }] });
    expect(readFileSync(path, 'utf8')).toBe('project: p\nversion: 1\nsandboxes:\n  - name: a\n    workspace: .\n');
    await expect(saveCaveConfig(path, { project: 'p', version: 1, sandboxes: [{ name: 'a', limits: { memory_mb: 1 } }] })).rejects.toThrow(
      'fresh.yaml: sandboxes[0].limits.memory_mb: must be at least 16',
    );
    expect(readFileSync(path, 'utf8')).toContain('workspace: .');
  });
});
