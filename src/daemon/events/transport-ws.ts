/** The event stream over a WebSocket: one JSON text message per stream message; pings keep it alive and find readers that are gone. */
import type { WebSocket } from 'ws';
import type { ErrorCode } from '../../api/errors.js';
import { HIGH_WATER_BYTES, type Transport } from './subscription.js';

/** How long a closing reader may take to finish the close handshake before it is cut. */
const CLOSE_GRACE_MS = 5000;

export class WsTransport implements Transport {
  /** Bytes given to ws.send and not yet written to the socket. */
  private pending = 0;
  private drains: (() => void)[] = [];
  private answered = true;

  constructor(private readonly ws: WebSocket) {
    ws.on('pong', () => {
      this.answered = true;
    });
    ws.on('message', () => {}); // a reader has nothing to say; what it sends is ignored
    ws.on('error', () => {});
  }

  send(_type: string, json: string, _id: number | null): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    const n = Buffer.byteLength(json);
    this.pending += n;
    this.ws.send(json, () => {
      this.pending -= n;
      if (this.pending < HIGH_WATER_BYTES / 2 && this.drains.length) for (const fn of this.drains.splice(0)) fn();
    });
  }

  backlog(): number {
    return this.pending;
  }

  onDrain(fn: () => void): void {
    this.drains.push(fn);
  }

  end(json: string, code: ErrorCode): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(json);
    // 1001: the daemon goes away; 4000: the stream ended with an error (as the exec WebSocket does)
    this.ws.close(code === 'DAEMON_UNAVAILABLE' ? 1001 : 4000, code);
    setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  heartbeat(): boolean {
    if (this.ws.readyState !== this.ws.OPEN) return false;
    if (!this.answered) {
      this.ws.terminate();
      return false;
    }
    this.answered = false;
    this.ws.ping();
    return true;
  }

  onClose(fn: () => void): void {
    this.ws.on('close', fn);
  }

  /** Cut the connection now (the daemon is gone after a short wait). */
  terminate(): void {
    this.ws.terminate();
  }
}
