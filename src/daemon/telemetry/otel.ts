/**
 * Traces on: OpenTelemetry's SDK with an OTLP/HTTP (JSON) exporter behind a batching processor.
 * Loaded by createTelemetry (./index.ts) only when OTEL_EXPORTER_OTLP_ENDPOINT is set.
 */
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { Tracing } from '../../runtime/tracing.js';
import { AsyncContextManager } from './context.js';
import type { Telemetry, TelemetryConfig } from './index.js';
import { AdjustableSampler } from './sampler.js';

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

export function exportingTelemetry(config: TelemetryConfig & { endpoint: string }, service: { version: string; hostName: string }): Telemetry {
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
