/**
 * The snippet that registers `bkg mcp` in an MCP client (editor / agent): how to launch it, in the
 * JSON shape that client reads. The command is `bkg` when that name on PATH is this very bkg;
 * otherwise the absolute node binary and bin/run.js, which work even when the editor's PATH is bare.
 */
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, sep } from 'node:path';
import { DEFAULT_BIN } from '../../client/ensure-daemon.js';

export const MCP_CLIENTS = ['claude', 'cursor', 'vscode'] as const;
export type McpClientName = (typeof MCP_CLIENTS)[number];

export interface Launch {
  command: string;
  args: string[];
  /** Settings of this shell the editor would not have: which daemon to talk to. */
  env?: Record<string, string>;
}

/** Where each client reads the snippet from (one line for humans). */
export const CONFIG_FILES: Record<McpClientName, string> = {
  claude: '.mcp.json in your project (Claude Code) or claude_desktop_config.json (Claude Desktop)',
  cursor: '~/.cursor/mcp.json (all projects) or .cursor/mcp.json (this project)',
  vscode: '.vscode/mcp.json in your workspace',
};

/** The executable `name` on PATH, or undefined. */
export function findOnPath(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    const file = join(dir, name);
    try {
      if (!statSync(file).isFile()) continue;
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/** Environment settings that choose the daemon, copied when set (never BKG_API_KEY: a secret does not belong in a config file). */
const ENV_KEPT = ['BKG_HOME', 'BKG_API_URL'] as const;

export interface LaunchOptions {
  env?: NodeJS.ProcessEnv;
  /** This bkg's bin/run.js; default the package's own. */
  binPath?: string;
  /** The node binary; default process.execPath. */
  nodePath?: string;
}

/** How an editor launches this bkg's MCP server. */
export function bkgLaunch(opts: LaunchOptions = {}): Launch {
  const env = opts.env ?? process.env;
  const bin = opts.binPath ?? DEFAULT_BIN;
  const onPath = findOnPath('bkg', env);
  // `bkg` only when it is this bkg, installed (npx puts node_modules/.bin on PATH for one command only).
  const usePath = onPath !== undefined && sameFile(onPath, bin) && !onPath.includes(`${sep}node_modules${sep}.bin${sep}`);
  const launch: Launch = usePath ? { command: 'bkg', args: ['mcp'] } : { command: opts.nodePath ?? process.execPath, args: [bin, 'mcp'] };
  const kept: Record<string, string> = {};
  for (const k of ENV_KEPT) {
    const v = env[k];
    if (v) kept[k] = v;
  }
  if (Object.keys(kept).length > 0) launch.env = kept;
  return launch;
}

/** The JSON that registers bkg in `client`. */
export function clientConfig(client: McpClientName, launch: Launch): Record<string, unknown> {
  const server = { command: launch.command, args: launch.args, ...(launch.env ? { env: launch.env } : {}) };
  if (client === 'vscode') return { servers: { bkg: { type: 'stdio', ...server } } };
  return { mcpServers: { bkg: server } };
}
