/**
 * The exec WebSocket of a sandbox another host runs: this host authorises the caller as for a
 * local exec, accepts the client's upgrade, opens the exec WebSocket of the other host's peer
 * listener (wss://, this host's certificate, the caller in x-bkg-forwarded-principal), and relays
 * every frame both ways in order (text and binary as they are) and the close code and reason.
 * When the other host refuses, cannot be reached, or goes away mid-stream, the client gets an
 * error frame (HOST_UNAVAILABLE, or the other host's own error) and close 4000.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket, WebSocketServer } from 'ws';
import { BkgError, toErrorBody } from '../../api/errors.js';
import type { Logger } from '../../log.js';
import type { Principal } from '../auth/api-keys.js';
import type { SandboxService } from '../sandbox/service.js';
import type { Sandbox } from '../../store/repos/index.js';
import { hostUnavailable, type Forwarder } from './forward.js';
import { errorOfFrame, refusal } from './remote-exec.js';

/** Close codes a peer may send (1005, 1006 and 1015 only ever describe a close). */
function sendable(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

export class ExecStreamProxy {
  constructor(private readonly d: { svc: SandboxService; forwarder: Forwarder; log: Logger }) {}

  /**
   * Take the upgrade over when another host runs the sandbox (true); false: this host runs it, or
   * the caller cannot see it, and the local exec answers as always.
   */
  take(p: Principal, id: string, req: IncomingMessage, socket: Duplex, head: Buffer, wss: WebSocketServer): boolean {
    const s = this.d.svc.remoteTarget(p, id, 'sandbox.exec');
    if (!s) return false;
    wss.handleUpgrade(req, socket, head, (client) => {
      this.d.svc.forwarded(p, s, 'sandbox.exec', () => this.relay(client, p, s)).catch((err: unknown) => {
        this.d.log.debug({ err, id: s.id, host: s.host }, 'forwarded exec stream failed');
      });
    });
    return true;
  }

  /** Resolves when the other host's stream ended with its exit frame; rejects with why it did not. */
  private relay(client: WebSocket, p: Principal, s: Sandbox): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const pending: [RawData, boolean][] = [];
      let upstream: WebSocket | null = null;
      let exited = false;
      let failure: BkgError | null = null;
      let clientGone = false;
      const fail = (err: BkgError): void => {
        failure ??= err;
        if (client.readyState === client.OPEN) {
          client.send(JSON.stringify({ type: 'error', ...toErrorBody(failure).body }));
          client.close(4000);
        }
        if (upstream && upstream.readyState !== upstream.CLOSED) upstream.terminate();
      };
      const settle = (): void => {
        if (exited || (clientGone && !failure)) resolve(); // a client that hangs up ends its command, as on this host
        else reject(failure ?? new BkgError('INTERNAL', 'the exec stream ended without an exit status'));
      };

      client.on('message', (data: RawData, isBinary: boolean) => {
        if (upstream && upstream.readyState === upstream.OPEN) upstream.send(data, { binary: isBinary });
        else pending.push([data, isBinary]);
      });
      client.on('close', (code: number, reason: Buffer) => {
        clientGone = true;
        if (!upstream) return settle();
        if (upstream.readyState === upstream.OPEN) upstream.close(sendable(code) ? code : 1000, reason);
        else if (upstream.readyState === upstream.CONNECTING) upstream.terminate();
      });
      client.on('error', () => {});

      this.d.forwarder.openStream(s.host, p, s.id).then(({ ws, target }) => {
        upstream = ws;
        if (clientGone) {
          ws.terminate();
          return settle();
        }
        ws.on('open', () => {
          for (const [data, isBinary] of pending.splice(0)) ws.send(data, { binary: isBinary });
        });
        ws.on('message', (data: RawData, isBinary: boolean) => {
          if (!isBinary) {
            try {
              const msg = JSON.parse(data.toString()) as { type?: unknown; error?: Record<string, unknown> };
              if (msg.type === 'exit') exited = true;
              else if (msg.type === 'error' && msg.error) failure ??= errorOfFrame(msg.error);
            } catch {
              /* relayed as it is */
            }
          }
          if (client.readyState === client.OPEN) client.send(data, { binary: isBinary });
        });
        ws.on('unexpected-response', (_req, res) => {
          void refusal(res).then(fail);
        });
        ws.on('error', (err: NodeJS.ErrnoException) => {
          if (!clientGone) fail(hostUnavailable(target.host.id, target.host.name, `does not answer at ${target.origin}: ${err.code ?? err.message}`, err));
        });
        ws.on('close', (code: number, reason: Buffer) => {
          if (!clientGone && client.readyState === client.OPEN) {
            if (exited || (failure && code === 4000)) client.close(sendable(code) ? code : 1000, reason);
            else if (sendable(code) && code !== 1001) client.close(code, reason); // the other host closed the stream itself
            else fail(hostUnavailable(target.host.id, target.host.name, 'went away before the command ended'));
          }
          settle();
        });
      }, (err: unknown) => {
        fail(err instanceof BkgError ? err : hostUnavailable(s.host, s.host, 'cannot be reached', err));
        settle();
      });
    });
  }
}
