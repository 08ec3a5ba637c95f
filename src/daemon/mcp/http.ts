/**
 * MCP over Streamable HTTP at /mcp (session ids, SSE): one SDK transport and server per session,
 * bound to the principal that opened it; a session id is useless with another key.
 */
import { randomUUID } from 'node:crypto';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { BkgError } from '../../api/errors.js';
import { ROUTES } from '../../api/routes.js';
import type { Tracing } from '../../runtime/tracing.js';
import type { Principal } from '../auth/api-keys.js';
import type { Action } from '../auth/rights.js';
import type { Handler } from '../http/context.js';
import type { Router } from '../http/router.js';
import type { Registry } from '../prometheus.js';
import type { SandboxService } from '../sandbox/service.js';
import { createMcpServer } from './tools.js';

export const MCP_PATH = ROUTES.mcpPost.path;
const MAX_SESSIONS = 1000;

interface Session {
  transport: StreamableHTTPServerTransport;
  principalId: string;
}

export function mcpRoutes(router: Router<Principal, Action>, svc: SandboxService, registry: Registry, version: string, tracing?: Tracing): { close(): Promise<void> } {
  const sessions = new Map<string, Session>();
  const calls = registry.counter('bkg_mcp_tool_calls_total', 'MCP tool calls, by tool and outcome.', ['tool', 'outcome']);
  registry.gauge('bkg_mcp_sessions', 'Open MCP sessions.', [], () => sessions.size);

  const handler: Handler<Principal> = async (ctx) => {
    const body = ctx.req.method === 'POST' ? await ctx.body() : undefined;
    const sid = ctx.req.headers['mcp-session-id'];
    let session: Session | undefined;
    if (typeof sid === 'string') {
      session = sessions.get(sid);
      if (!session || session.principalId !== ctx.principal.id) {
        throw new BkgError('NOT_FOUND', 'no such MCP session (it ended, the daemon restarted, or it belongs to another key): initialize a new one');
      }
    } else {
      if (ctx.req.method !== 'POST' || !isInitializeRequest(body)) throw new BkgError('INVALID_ARGUMENT', 'start an MCP session with an initialize request (POST, no Mcp-Session-Id)');
      if (sessions.size >= MAX_SESSIONS) throw new BkgError('RATE_LIMITED', `too many open MCP sessions (${MAX_SESSIONS})`, { details: { retry_after_s: 5 } });
      const principalId = ctx.principal.id;
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          sessions.set(id, { transport, principalId });
        },
      });
      transport.onclose = () => {
        if (transport.sessionId) sessions.delete(transport.sessionId);
      };
      await createMcpServer(svc, ctx.principal, calls, version, tracing).connect(transport);
      session = { transport, principalId };
    }
    const { transport } = session;
    return { status: 200, takeover: (res) => transport.handleRequest(ctx.req, res, body) };
  };
  router.route(ROUTES.mcpPost, handler).route(ROUTES.mcpGet, handler).route(ROUTES.mcpDelete, handler);
  return {
    async close() {
      await Promise.allSettled([...sessions.values()].map((s) => s.transport.close()));
      sessions.clear();
    },
  };
}
