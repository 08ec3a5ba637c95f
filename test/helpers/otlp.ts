/** A real OTLP/HTTP receiver on 127.0.0.1: collects what a daemon exports to /v1/traces (JSON), as a collector would. */
import { createServer, type Server } from 'node:http';

export interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: { key: string; value: Record<string, unknown> }[];
  status?: { code?: number; message?: string };
}

export interface OtlpReceiver {
  readonly endpoint: string;
  /** Every request body received, raw (to search for what must never be exported). */
  readonly bodies: string[];
  spans(): ExportedSpan[];
  /** Wait until `pred` holds over the spans received (polling), or fail naming `what`. */
  waitFor(what: string, pred: (spans: ExportedSpan[]) => boolean, timeoutMs?: number): Promise<ExportedSpan[]>;
  clear(): void;
  close(): Promise<void>;
}

interface TracesRequest {
  resourceSpans?: { scopeSpans?: { spans?: ExportedSpan[] }[] }[];
}

export function attr(span: ExportedSpan, key: string): unknown {
  const v = span.attributes?.find((a) => a.key === key)?.value;
  return v === undefined ? undefined : Object.values(v)[0];
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const bodies: string[] = [];
  let spans: ExportedSpan[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !(req.headers['content-type'] ?? '').startsWith('application/json')) {
        res.statusCode = 404;
        res.end();
        return;
      }
      bodies.push(text);
      const parsed = JSON.parse(text) as TracesRequest;
      for (const rs of parsed.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []));
      res.setHeader('content-type', 'application/json');
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bodies,
    spans: () => spans,
    async waitFor(what, pred, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pred(spans)) {
        if (Date.now() > deadline) throw new Error(`the OTLP receiver did not get ${what} within ${timeoutMs} ms (${spans.length} spans: ${[...new Set(spans.map((s) => s.name))].join(', ')})`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return spans;
    },
    clear() {
      spans = [];
      bodies.length = 0;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
