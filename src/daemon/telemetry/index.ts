/**
 * Traces (OpenTelemetry), built once by the composition root and passed down. With
 * OTEL_EXPORTER_OTLP_ENDPOINT set, spans go to `${endpoint}/v1/traces` over OTLP/HTTP (JSON) through
 * a batching processor; without it there is no provider, no processor and no buffer: every hook is
 * a no-op (`enabled: false`), a request pays one null check, and OpenTelemetry's packages are not
 * even loaded (./otel.ts is imported only when traces are on). The sampling rate
 * (CAVE_OTEL_SAMPLING_RATE) applies to new traces and can change while the daemon runs.
 */
import { NO_TRACING, type TraceAttributes, type Tracing } from '../../runtime/tracing.js';
import { isSamplingRate } from './rate.js';

export { isSamplingRate } from './rate.js';

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

/** The daemon's traces: off (no-op hooks) without an endpoint; with one, OpenTelemetry's SDK, loaded now. */
export async function createTelemetry(config: TelemetryConfig, service: { version: string; hostName: string }): Promise<Telemetry> {
  if (config.endpoint === null) return disabled(config.samplingRate);
  const { exportingTelemetry } = await import('./otel.js');
  return exportingTelemetry({ ...config, endpoint: config.endpoint }, service);
}
