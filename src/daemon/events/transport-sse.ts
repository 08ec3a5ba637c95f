/**
 * The event stream as server-sent events: `id:`, `event:` and `data:` lines per message (stream
 * control messages have no id, so a reconnecting EventSource's Last-Event-ID is always an event's),
 * and a comment line as the heartbeat.
 */
import type { ServerResponse } from 'node:http';
import type { ErrorCode } from '../../api/errors.js';
import type { Transport } from './subscription.js';

/** How long the last message may take to reach a reader before the connection is cut. */
const END_GRACE_MS = 5000;

export class SseTransport implements Transport {
  private isClosed = false;

  constructor(private readonly res: ServerResponse) {
    res.once('close', () => {
      this.isClosed = true;
    });
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'x-accel-buffering': 'no', // no proxy buffering (nginx)
      connection: 'keep-alive',
    });
    res.socket?.setNoDelay(true);
    res.flushHeaders();
  }

  private get open(): boolean {
    return !this.res.writableEnded && !this.res.destroyed;
  }

  send(type: string, json: string, id: number | null): void {
    if (this.open) this.res.write(`${id === null ? '' : `id: ${id}\n`}event: ${type}\ndata: ${json}\n\n`);
  }

  backlog(): number {
    return this.res.writableLength;
  }

  onDrain(fn: () => void): void {
    this.res.once('drain', fn);
  }

  end(json: string, _code: ErrorCode): void {
    if (!this.open) return;
    this.res.end(`event: stream.end\ndata: ${json}\n\n`);
    const timer = setTimeout(() => this.res.destroy(), END_GRACE_MS).unref();
    this.res.once('close', () => clearTimeout(timer));
  }

  heartbeat(): boolean {
    if (!this.open) return false;
    this.res.write(': keep-alive\n\n');
    return true;
  }

  onClose(fn: () => void): void {
    this.res.once('close', fn);
  }

  terminate(): void {
    this.res.destroy();
  }

  /** Resolves when the connection has closed. */
  closed(): Promise<void> {
    return new Promise((resolve) => (this.isClosed ? resolve() : this.res.once('close', () => resolve())));
  }
}
