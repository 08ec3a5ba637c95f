/**
 * How the runtime reports the phases of a sandbox's start and of an exec, without knowing who
 * listens: the daemon passes an implementation over OpenTelemetry (src/daemon/telemetry/); without
 * one, NO_TRACING costs a function call per phase.
 */
export type TraceAttributes = Record<string, string | number | boolean>;

export interface Tracing {
  /** Run `fn` as a phase (a child span of whatever span is current); `fn` may add attributes it learns on the way with `set`. */
  span<T>(name: string, attrs: TraceAttributes, fn: (set: (attrs: TraceAttributes) => void) => Promise<T>): Promise<T>;
  /** A phase that already happened, from `startMs` to `endMs` (epoch milliseconds): a child span of the current one. */
  record(name: string, startMs: number, endMs: number, attrs?: TraceAttributes): void;
}

export const NO_TRACING: Tracing = {
  span: (_name, _attrs, fn) => fn(() => {}),
  record: () => {},
};

/** Now, in epoch milliseconds with sub-millisecond precision (for `record`). */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}
