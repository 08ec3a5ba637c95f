/**
 * Traces (OpenTelemetry), built once by the composition root and passed down. With
 * OTEL_EXPORTER_OTLP_ENDPOINT set, spans go to `${endpoint}/v1/traces` over OTLP/HTTP (JSON) through
 * a batching processor; without it there is no provider, no processor and no buffer: every hook is
 * a no-op (`enabled: false`) and a request pays one null check. The sampling rate
 * (CAVE_OTEL_SAMPLING_RATE) applies to new traces and can change while the daemon runs.
 */
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { NO_TRACING, type TraceAttributes, type Tracing } from '../../runtime/tracing.js';
import { AsyncContextManager } from './context.js';
import { AdjustableSampler, isSamplingRate } from './sampler.js';

export { isSamplingRate } from './sampler.js';

export interface TelemetryConfig {
  /** OTEL_EXPORTER_OTLP_ENDPOINT (null: nothing is traced or exported). */
  readonly endpoint: string | null;
  /** CAVE_OTEL_SAMPLING_RATE, 0.0 to 1.0. */
  readonly samplingRate: number;
}

/** The span of one API request, from its route to its answer. */
export interface RequestSpan {
  /** The trace id (32 hex digits) when the request is traced and kept, else null. */
  readonly traceId: string | null;
  /** Run the handler with this span current (its spans, and log lines, are the request's). */
  run<T>(fn: () => T): T;
  end(status: number): void;
}

export interface Telemetry {
  readonly enabled: boolean;
  samplingRate(): number;
  /** Change the rate of new traces (a number from 0.0 to 1.0). */
  setSamplingRate(rate: number): void;
  /** Phases of the runtime and the daemon's services (children of the current span). */
  readonly tracing: Tracing;
  /** A server span for a request (null when tracing is off); `traceparent`: the caller's W3C trace context, continued when valid. */
  request(name: string, attrs: TraceAttributes, traceparent?: string): RequestSpan | null;
  /** For pino's mixin: trace_id and span_id of the current span, when there is one. */
  logFields(): { trace_id?: string; span_id?: string };
  /** Export what is buffered and stop. */
  shutdown(): Promise<void>;
}

/** Off: the hooks do nothing; the rate is still kept so a running daemon reports and accepts it. */
function disabled(rate: number): Telemetry {
  let current = rate;
  return {
    enabled: false,
    samplingRate: () => current,
    setSamplingRate: (r) => {
      if (!isSamplingRate(r)) throw new RangeError(`sampling rate ${String(r)} is not between 0.0 and 1.0`);
      current = r;
    },
    tracing: NO_TRACING,
    request: () => null,
    logFields: () => ({}),
    shutdown: async () => {},
  };
}

function failed(span: Span, err: unknown): void {
  // the error's code (or class), never its message: messages may quote what a caller sent
  const code = (err as { code?: unknown } | null)?.code;
  span.setStatus({ code: SpanStatusCode.ERROR, message: typeof code === 'string' ? code : err instanceof Error ? err.name : 'error' });
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The caller's trace (a W3C traceparent header, version 00) as the parent of a request's span; anything else starts a new trace. */
export function parentOf(traceparent: string | undefined): Context {
  const m = traceparent === undefined ? null : TRACEPARENT.exec(traceparent.trim());
  if (!m) return ROOT_CONTEXT;
  const sc = { traceId: m[1] as string, spanId: m[2] as string, traceFlags: parseInt(m[3] as string, 16) & 1, isRemote: true };
  return trace.isSpanContextValid(sc) ? trace.setSpanContext(ROOT_CONTEXT, sc) : ROOT_CONTEXT;
}

function tracingOver(tracer: Tracer): Tracing {
  return {
    span: (name, attrs, fn) =>
      tracer.startActiveSpan(name, { attributes: attrs as Attributes }, async (span) => {
        try {
          return await fn((a) => span.setAttributes(a as Attributes));
        } catch (err) {
          failed(span, err);
          throw err;
        } finally {
          span.end();
        }
      }),
    record: (name, startMs, endMs, attrs) => {
      tracer.startSpan(name, { startTime: startMs, ...(attrs ? { attributes: attrs as Attributes } : {}) }, context.active()).end(endMs);
    },
  };
}

export function createTelemetry(config: TelemetryConfig, service: { version: string; hostName: string }): Telemetry {
  if (config.endpoint === null) return disabled(config.samplingRate);
  const sampler = new AdjustableSampler(config.samplingRate);
  const exporter = new OTLPTraceExporter({ url: `${config.endpoint.replace(/\/+$/, '')}/v1/traces` });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'bkgd', [ATTR_SERVICE_VERSION]: service.version, 'host.name': service.hostName }),
    sampler,
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  // OTel's context is process-wide: the first daemon of a process registers it (a second one, in tests, finds it there)
  context.setGlobalContextManager(new AsyncContextManager());
  const tracer = provider.getTracer('bkg', service.version);
  return {
    enabled: true,
    samplingRate: () => sampler.rate,
    setSamplingRate: (r) => {
      sampler.rate = r;
    },
    tracing: tracingOver(tracer),
    request(name, attrs, traceparent) {
      const parent = parentOf(traceparent);
      const span = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes: attrs as Attributes }, parent);
      const ctx = trace.setSpan(parent, span);
      const sc = span.spanContext();
      return {
        traceId: span.isRecording() ? sc.traceId : null,
        run: (fn) => context.with(ctx, fn),
        end: (status) => {
          span.setAttribute('http.response.status_code', status);
          if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
        },
      };
    },
    logFields() {
      const span = trace.getSpan(context.active());
      if (!span?.isRecording()) return {};
      const sc = span.spanContext();
      return { trace_id: sc.traceId, span_id: sc.spanId };
    },
    shutdown: () => provider.shutdown(),
  };
}
