/** The daemon's doors as a client sees them: REST on each listener, WebSocket exec, and MCP (official SDK client). */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import WebSocket from 'ws';

export interface McpResult {
  isError?: boolean;
  structuredContent?: Record<string, unknown>;
  _meta?: Record<string, unknown>;
  content: { type: string; text?: string }[];
}

/** An MCP session over Streamable HTTP with a bearer key. */
export async function mcpClient(port: number, key: string): Promise<Client> {
  const client = new Client({ name: 'bkg-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${key}` } } }));
  return client;
}

export async function mcpTool(c: Client, name: string, args: Record<string, unknown> = {}): Promise<McpResult> {
  return (await c.callTool({ name, arguments: args })) as McpResult;
}

/** The error code of a tool result, or null when it succeeded. */
export function mcpErrorCode(r: McpResult): string | null {
  if (!r.isError) return null;
  return mcpError(r)?.code ?? 'unknown';
}

/** The error body of a failed tool call (in `_meta["bkg/error"]`). */
export function mcpError(r: McpResult): { code: string; message: string; hint: string; details?: Record<string, unknown> } | undefined {
  return r._meta?.['bkg/error'] as { code: string; message: string; hint: string; details?: Record<string, unknown> } | undefined;
}

export interface WsOutcome {
  /** HTTP status when the upgrade was refused. */
  status?: number;
  /** The error code of an error frame. */
  error?: string;
  exitCode?: number | null;
  stdout: string;
}

/** Where a WebSocket goes: a TCP port on 127.0.0.1, or a unix socket (the local bkg.sock, the in-sandbox sandbox.sock). */
export interface WsTarget {
  port?: number;
  socketPath?: string;
}

/** One command over the WebSocket exec, on TCP (a port) or a unix socket, with a bearer key (none: the local socket's host admin). */
export function wsExec(at: number | WsTarget, key: string | undefined, sandbox: string, cmd: string[]): Promise<WsOutcome> {
  const t: WsTarget = typeof at === 'number' ? { port: at } : at;
  const path = `/api/v1/sandboxes/${sandbox}/exec/ws`;
  const url = t.socketPath ? `ws+unix://${t.socketPath}:${path}` : `ws://127.0.0.1:${t.port}${path}`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: key ? { authorization: `Bearer ${key}` } : {} });
    const out: WsOutcome = { stdout: '' };
    ws.on('unexpected-response', (_req, res) => {
      out.status = res.statusCode;
      res.resume();
      resolve(out);
    });
    ws.on('open', () => ws.send(JSON.stringify({ type: 'start', cmd })));
    ws.on('message', (data: Buffer, binary) => {
      if (binary) {
        if (data[0] === 1) out.stdout += data.subarray(1).toString();
        return;
      }
      const msg = JSON.parse(data.toString()) as { type: string; exit_code?: number | null; error?: { code: string } };
      if (msg.type === 'exit') out.exitCode = msg.exit_code ?? null;
      if (msg.type === 'error') out.error = msg.error?.code;
    });
    ws.on('close', () => resolve(out));
    ws.on('error', (err) => (out.status === undefined ? reject(err) : resolve(out)));
  });
}
