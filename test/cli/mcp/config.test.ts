/** `bkg mcp config --client ...`: the snippet each MCP client reads, through bin/run.js. */
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, bkg } from '../../helpers/cli.js';

describe('bkg mcp config', () => {
  let dir: string;
  let home: string;
  /** PATH dirs: one without bkg, one where bkg is this bkg, one with some other bkg. */
  let bare: string;
  let installed: string;
  let other: string;
  const run = (args: string[], path: string, extra: NodeJS.ProcessEnv = {}) => bkg(['mcp', 'config', ...args], { env: { PATH: path, BKG_HOME: home, BKG_API_URL: '', BKG_API_KEY: '', ...extra } });
  const json = async (client: string, path = bare, extra: NodeJS.ProcessEnv = {}) => {
    const r = await run(['--client', client, '--json'], path, extra);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };
  const nodeLaunch = () => ({ command: process.execPath, args: [realpathSync(BIN), 'mcp'], env: { BKG_HOME: home } });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bkg-mcp-config-'));
    home = join(dir, 'home');
    bare = join(dir, 'bare');
    installed = join(dir, 'installed');
    other = join(dir, 'other');
    for (const d of [bare, installed, other]) mkdirSync(d);
    symlinkSync(realpathSync(BIN), join(installed, 'bkg'));
    writeFileSync(join(other, 'bkg'), '#!/bin/sh\necho another bkg\n');
    chmodSync(join(other, 'bkg'), 0o755);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('claude: mcpServers, launching node and bin/run.js when bkg is not on PATH', async () => {
    expect(await json('claude')).toEqual({ mcpServers: { bkg: nodeLaunch() } });
  });

  it('cursor: the same mcpServers shape', async () => {
    expect(await json('cursor')).toEqual({ mcpServers: { bkg: nodeLaunch() } });
  });

  it('vscode: servers with type stdio', async () => {
    expect(await json('vscode')).toEqual({ servers: { bkg: { type: 'stdio', ...nodeLaunch() } } });
  });

  it('launches `bkg` when this bkg is on PATH, and never another one', async () => {
    expect(await json('claude', installed)).toEqual({ mcpServers: { bkg: { command: 'bkg', args: ['mcp'], env: { BKG_HOME: home } } } });
    expect(await json('vscode', installed)).toEqual({ servers: { bkg: { type: 'stdio', command: 'bkg', args: ['mcp'], env: { BKG_HOME: home } } } });
    expect(await json('claude', other)).toEqual({ mcpServers: { bkg: nodeLaunch() } });
  });

  it('copies BKG_API_URL but never BKG_API_KEY', async () => {
    const r = await json('cursor', bare, { BKG_API_URL: 'http://127.0.0.1:7420', BKG_API_KEY: 'bkg_secret' });
    expect(r).toEqual({ mcpServers: { bkg: { ...nodeLaunch(), env: { BKG_HOME: home, BKG_API_URL: 'http://127.0.0.1:7420' } } } });
    expect(JSON.stringify(r)).not.toContain('bkg_secret');
  });

  it('without --json: one line naming the file, then the same JSON', async () => {
    for (const [client, file] of [['claude', '.mcp.json'], ['cursor', '~/.cursor/mcp.json'], ['vscode', '.vscode/mcp.json']] as const) {
      const r = await run(['--client', client], bare);
      expect(r.code).toBe(0);
      const [first, ...rest] = r.stdout.split('\n');
      expect(first).toContain(file);
      expect(JSON.parse(rest.join('\n'))).toEqual(await json(client));
    }
  });

  it('rejects an unknown or missing client as INVALID_ARGUMENT', async () => {
    const bad = await run(['--client', 'emacs', '--json'], bare);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stdout)).toMatchObject({ error: { code: 'INVALID_ARGUMENT' } });
    expect(bad.stdout).toContain('claude, cursor, vscode');
    const human = await run(['--client', 'emacs'], bare);
    expect(human.code).toBe(2);
    expect(human.stdout).toBe('');
    expect(human.stderr).toContain('emacs');
    expect((await run([], bare)).code).toBe(2);
  });
});
