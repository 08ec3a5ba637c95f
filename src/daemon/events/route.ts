/**
 * GET /api/v1/events on every listener: a WebSocket (the servers' upgrade, exec-ws.ts) or server-sent
 * events (the router, for any plain GET; `Accept: text/event-stream` is what curl users send). The
 * route's action was authorised before either runs; each event is then checked per reader.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { parse } from '../../api/parse.js';
import { ROUTES } from '../../api/routes.js';
import { EventsQuery } from '../../api/schema/events.js';
import { answerSubprotocol } from '../auth/authenticate.js';
import type { Principal } from '../auth/api-keys.js';
import type { Action } from '../auth/rights.js';
import type { UpgradeEndpoint } from '../exec-ws.js';
import type { Router } from '../http/router.js';
import type { DaemonEvents } from './index.js';
import { SseTransport } from './transport-sse.js';
import { WsTransport } from './transport-ws.js';

/** The server-sent events of the route (the router's handler). */
export function eventRoutes(router: Router<Principal, Action>, events: DaemonEvents): void {
  router.route(ROUTES.events, async ({ principal, req, input: { query } }) => {
    const ticket = events.admit(principal, query, req.headers['last-event-id']);
    if (req.method === 'HEAD') return { status: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8' } };
    return {
      status: 200,
      takeover: async (res) => {
        const transport = new SseTransport(res);
        events.attach(ticket, transport);
        await transport.closed();
      },
    };
  });
}

/** The WebSocket of the route: one JSON text message per stream message. */
export function eventsUpgrade(events: DaemonEvents): UpgradeEndpoint & { close(): void } {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024, handleProtocols: answerSubprotocol });
  return {
    spec: ROUTES.events,
    take(principal: Principal, req: IncomingMessage, socket: Duplex, head: Buffer): void {
      const query = parse(EventsQuery, Object.fromEntries(new URL(req.url ?? '/', 'http://bkg').searchParams), 'query');
      const ticket = events.admit(principal, query);
      wss.handleUpgrade(req, socket, head, (ws) => events.attach(ticket, new WsTransport(ws)));
    },
    close: () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}
