/**
 * The MCP tools and resources: each a thin call into SandboxService, acting as the session's
 * principal, so namespaces, audit and limits are exactly those of the REST API.
 */
import { NO_TRACING, type Tracing } from '../../runtime/tracing.js';
import { randomBytes } from 'node:crypto';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod/v4';
import { toMcpToolError } from '../../api/errors.js';
import { EXEC_OUTPUT_CAP } from '../../api/names.js';
import { parse } from '../../api/parse.js';
import { TOOLS, type ToolName } from '../../api/schema/mcp.js';
import type { Principal } from '../auth/api-keys.js';
import type { Counter } from '../prometheus.js';
import { execSummary, type SandboxService } from '../sandbox/service.js';
import type { ExecControl } from '../../runtime/io.js';

const LANGUAGES = { python: ['python3', '-c'], node: ['node', '-e'], shell: ['/bin/sh', '-c'] } as const;

type ToolResult = { content: { type: 'text'; text: string }[]; structuredContent: Record<string, unknown>; isError?: boolean };
type Args<T extends ToolName> = z.output<z.ZodObject<(typeof TOOLS)[T]['input']>>;

function ok(value: Record<string, unknown>, text?: string): ToolResult {
  return { content: [{ type: 'text', text: text ?? JSON.stringify(value, null, 2) }], structuredContent: value };
}

/** Each tool's arguments as one object (unknown top-level arguments are dropped, as the SDK does). */
const ARGUMENTS = Object.fromEntries(Object.entries(TOOLS).map(([name, spec]) => [name, z.object(spec.input)])) as Record<ToolName, z.ZodObject>;
/** Set on the arguments the contract refused, with the BkgError saying why. */
const REFUSED = Symbol('refused');

/**
 * The SDK checks a tool's arguments against its schema before calling the tool, and answers a bad
 * one with an untyped "Input validation error" text. Checked instead with the contract's own parse,
 * a bad argument is the same INVALID_ARGUMENT naming the field (`details.field`) as on REST, in
 * `_meta["bkg/error"]` like every other tool error. (McpServer has no public hook for this: its
 * validateToolInput is replaced on this one instance, and its absence fails the server's start.)
 */
function checkArgumentsWithTheContract(server: McpServer): void {
  const sdk = server as unknown as { validateToolInput?: (tool: unknown, args: unknown, name: string) => Promise<unknown> };
  const sdkValidate = sdk.validateToolInput?.bind(server);
  if (!sdkValidate) throw new Error('@modelcontextprotocol/sdk: McpServer.validateToolInput is gone; see checkArgumentsWithTheContract');
  sdk.validateToolInput = async (tool, args, name) => {
    const schema = ARGUMENTS[name as ToolName] as z.ZodObject | undefined;
    if (!schema) return sdkValidate(tool, args, name);
    try {
      return parse(schema, args ?? {}, 'the arguments');
    } catch (err) {
      return { [REFUSED]: err };
    }
  };
}

function capped(chunks: Buffer[]): { text: string; truncated: boolean } {
  const all = Buffer.concat(chunks);
  return { text: all.subarray(0, EXEC_OUTPUT_CAP).toString('utf8'), truncated: all.length > EXEC_OUTPUT_CAP };
}

interface Extra {
  signal: AbortSignal;
  _meta?: { progressToken?: string | number };
  sendNotification: (n: { method: 'notifications/progress'; params: { progressToken: string | number; progress: number; message?: string } }) => Promise<void>;
}

export function createMcpServer(svc: SandboxService, principal: Principal, calls: Counter, version: string, tracing: Tracing = NO_TRACING): McpServer {
  const server = new McpServer({ name: 'bkg', version }, { capabilities: { logging: {} } });
  checkArgumentsWithTheContract(server);

  /** Every tool, as the contract declares it (src/api/schema/mcp.ts): counted by outcome, and failures as MCP tool errors with our stable codes. */
  const tool = <T extends ToolName>(name: T, fn: (args: Args<T>, extra: Extra) => Promise<ToolResult>): void => {
    const spec = TOOLS[name];
    server.registerTool(name, { description: spec.description, inputSchema: spec.input, outputSchema: spec.output.shape }, (async (args: Args<T>, extra: Extra) => {
      if (typeof args === 'object' && args !== null && REFUSED in args) {
        calls.inc({ tool: name, outcome: 'error' });
        return toMcpToolError((args as { [REFUSED]: unknown })[REFUSED]);
      }
      try {
        const r = await tracing.span(`mcp.tool ${name}`, { 'mcp.tool.name': name }, () => fn(args, extra));
        calls.inc({ tool: name, outcome: 'ok' });
        return r;
      } catch (err) {
        calls.inc({ tool: name, outcome: 'error' });
        return toMcpToolError(err);
      }
    }) as never);
  };

  /** Run a command with progress notifications (output as it comes) and cancellation. */
  const run = async (name: string, cmd: string[], opts: { cwd?: string; env?: Record<string, string>; timeout_ms?: number }, extra: Extra): Promise<ToolResult> => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let progress = 0;
    const token = extra._meta?.progressToken;
    const notify = (chunk: Buffer): void => {
      if (token === undefined) return;
      progress += chunk.length;
      void extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress, message: chunk.toString('utf8').slice(0, 1000) } }).catch(() => {});
    };
    let ctl: ExecControl | null = null;
    const abort = (): void => ctl?.stop();
    extra.signal.addEventListener('abort', abort);
    try {
      const r = await svc.execWith(principal, name, { cmd, ...opts }, {
        stdio: ['ignore', 'pipe', 'pipe'],
        onStdout: (c) => { out.push(c); notify(c); },
        onStderr: (c) => { err.push(c); notify(c); },
        onStarted: (c) => {
          ctl = c;
          if (extra.signal.aborted) c.stop();
        },
      });
      const o = capped(out);
      const e = capped(err);
      const value = { ...execSummary(r), stdout: o.text, stderr: e.text, stdout_truncated: o.truncated, stderr_truncated: e.truncated, cancelled: extra.signal.aborted };
      const text = `exit code ${r.exitCode ?? `none (signal ${r.signal})`}${r.timedOut ? ', timed out' : ''}${r.oomKilled ? ', out of memory' : ''}\n--- stdout ---\n${o.text}\n--- stderr ---\n${e.text}`;
      return ok(value, text);
    } finally {
      extra.signal.removeEventListener('abort', abort);
    }
  };

  tool('sandbox_create', async (a) => ok({ sandbox: (await svc.create(principal, a)).sandbox }));
  tool('sandbox_list', async () => ok({ sandboxes: svc.list(principal) }));
  tool('sandbox_start', async (a) => ok({ sandbox: await svc.start(principal, a.sandbox) }));
  tool('sandbox_stop', async (a) => ok({ sandbox: await svc.stop(principal, a.sandbox) }));
  tool('sandbox_delete', async (a) => {
    await svc.remove(principal, a.sandbox);
    return ok({ deleted: a.sandbox });
  });

  tool('sandbox_exec', async (a, extra) => run(a.sandbox, a.cmd, { ...(a.cwd ? { cwd: a.cwd } : {}), ...(a.env ? { env: a.env } : {}), ...(a.timeout_ms ? { timeout_ms: a.timeout_ms } : {}) }, extra));

  tool('sandbox_run_code', async (a, extra) => {
    const cmd = [...LANGUAGES[a.language], a.code];
    const opts = a.timeout_ms ? { timeout_ms: a.timeout_ms } : {};
    if (a.sandbox) return run(a.sandbox, cmd, opts, extra);
    const temp = `run-${randomBytes(4).toString('hex')}`;
    await svc.create(principal, { name: temp, runtime: a.language });
    try {
      await svc.start(principal, temp);
      return await run(temp, cmd, opts, extra);
    } finally {
      await svc.remove(principal, temp);
    }
  });

  tool('file_read', async (a) => {
    const data = await svc.readFile(principal, a.sandbox, a.path);
    const text = data.toString('utf8');
    const binary = !Buffer.from(text, 'utf8').equals(data);
    const value = { path: a.path, size: data.length, encoding: binary ? 'base64' : 'utf-8', content: binary ? data.toString('base64') : text };
    return ok(value, binary ? `(binary, ${data.length} bytes, base64)\n${value.content}` : text);
  });
  tool('file_write', async (a) => {
    const data = Buffer.from(a.content, a.encoding === 'base64' ? 'base64' : 'utf8');
    await svc.writeFile(principal, a.sandbox, a.path, data);
    return ok({ path: a.path, size: data.length }, `wrote ${data.length} bytes to ${a.path}`);
  });
  tool('file_list', async (a) => ok({ path: a.path, entries: await svc.listFiles(principal, a.sandbox, a.path) }));
  tool('sandbox_snapshot', async (a) => ok({ snapshot: svc.snapshots.view(await svc.snapshots.take(principal, a.sandbox, a.tag)) }));
  tool('sandbox_fork', async (a) => ok({ sandbox: (await svc.fork(principal, a.sandbox, a.name, a.tag)).sandbox }));
  tool('snapshot_list', async () => ok({ snapshots: svc.snapshots.list(principal).map((x) => svc.snapshots.view(x)) }));
  tool('snapshot_delete', async (a) => {
    await svc.snapshots.remove(principal, a.snapshot);
    return ok({ deleted: a.snapshot });
  });
  tool('sandbox_changes', async (a) => ok({ changes: await svc.changes(principal, a.sandbox) }));
  tool('sandbox_metrics', async (a) => {
    const v = await svc.get(principal, a.sandbox);
    return ok({ name: v.name, status: v.status, limits: v.limits, usage: v.usage ?? null, started_at: v.started_at, expires_at: v.expires_at, idle_expires_at: v.idle_expires_at });
  });

  server.registerResource('sandbox-logs', new ResourceTemplate('bkg://sandboxes/{sandbox}/logs', {
    list: async () => ({ resources: svc.list(principal).map((s) => ({ uri: `bkg://sandboxes/${s.name}/logs`, name: `${s.name} logs`, mimeType: 'application/json' })) }),
  }), { description: 'The commands run in a sandbox, with exit codes and durations.', mimeType: 'application/json' }, async (uri, vars) => ({
    contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(await svc.executionsOf(principal, String(vars.sandbox)), null, 2) }],
  }));
  server.registerResource('sandbox-file', new ResourceTemplate('bkg://sandboxes/{sandbox}/files/{+path}', { list: undefined }), {
    description: 'A file inside a running sandbox, e.g. bkg://sandboxes/web/files/workspace/main.py.',
  }, async (uri, vars) => {
    const data = await svc.readFile(principal, String(vars.sandbox), `/${String(vars.path)}`);
    return { contents: [{ uri: uri.href, text: data.toString('utf8') }] };
  });
  return server;
}
