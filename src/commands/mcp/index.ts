import { Console } from 'node:console';
import { Flags } from '@oclif/core';
import { BkgError, exitCodeFor, toErrorBody } from '../../api/errors.js';
import { DaemonCommand } from '../../cli/daemon-command.js';
import { resolveEndpoint } from '../../client/endpoint.js';
import type { LogLevel } from '../../cli/mcp/bridge.js';

const LEVELS: Record<string, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, fatal: 5, silent: 6 };

/** stdout is the MCP channel: whatever a library prints with console.log & co goes to stderr instead. */
function keepStdoutForProtocol(): void {
  const err = new Console({ stdout: process.stderr, stderr: process.stderr });
  console.log = err.log.bind(err);
  console.info = err.info.bind(err);
  console.debug = err.debug.bind(err);
  console.dir = err.dir.bind(err);
  console.dirxml = err.dirxml.bind(err);
  console.table = err.table.bind(err);
}

export default class Mcp extends DaemonCommand {
  static override summary = 'Serve the bkg MCP tools on stdin/stdout, for editors and agents that launch a command.';
  static override description = `Bridges MCP over stdio to the daemon's MCP endpoint (/mcp on $BKG_HOME/bkg.sock, or BKG_API_URL with BKG_API_KEY), starting the host's daemon first when it is not running. stdout carries only MCP messages; diagnostics go to stderr (BKG_LOG_LEVEL=debug shows more). Exits when stdin closes.

\`bkg mcp config --client claude|cursor|vscode\` prints the snippet that registers it in an editor.`;

  /** No --json: stdout is the protocol (the flag is still accepted, and ignored). */
  static override baseFlags = {
    json: Flags.boolean({ hidden: true, default: false }),
  };

  static override examples = ['<%= config.bin %> mcp', '<%= config.bin %> mcp config --client claude'];

  async run(): Promise<void> {
    await this.parse(Mcp);
    keepStdoutForProtocol();
    const threshold = LEVELS[process.env.BKG_LOG_LEVEL ?? 'warn'] ?? LEVELS.warn!;
    const log = (level: LogLevel, message: string): void => {
      if ((LEVELS[level] ?? 0) >= threshold) process.stderr.write(`bkg mcp: ${level === 'info' ? '' : `${level}: `}${message}\n`);
    };
    const endpoint = resolveEndpoint();
    // The host's own daemon is started when it is not running (never one behind BKG_API_URL).
    const ensure = endpoint.home === undefined ? undefined : async (): Promise<void> => {
      await this.withClient((c) => c.ensureDaemon());
    };
    await ensure?.();

    // Loaded here: the MCP SDK is not for every command's start-up.
    const { McpBridge, mcpUrl } = await import('../../cli/mcp/bridge.js');
    const bridge = new McpBridge({ endpoint, log, ...(ensure ? { beforeReconnect: ensure } : {}) });
    const stop = (): void => void bridge.close();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    process.once('SIGHUP', stop);
    try {
      await bridge.start();
      log('debug', `bridging stdio to ${mcpUrl(endpoint).pathname} at ${endpoint.url}`);
      await bridge.closed;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.off('SIGHUP', stop);
    }
  }

  /** Errors go to stderr only, even with --json: stdout belongs to the protocol. */
  override async catch(err: Error & { oclif?: { exit?: number } }): Promise<void> {
    if (err.oclif?.exit === 0) return;
    const e = err instanceof BkgError || err.oclif?.exit === undefined ? err : new BkgError('INVALID_ARGUMENT', err.message.split('\n')[0] ?? err.message);
    const { body } = toErrorBody(e);
    process.stderr.write(`bkg mcp: ${body.error.message}\n  hint: ${body.error.hint}\n`);
    process.exitCode = exitCodeFor(e);
  }
}
