/**
 * The daemon's sampler: a span with a parent follows its parent's decision; a new trace is kept
 * with probability `rate`, decided from its trace id (as OTel's TraceIdRatioBasedSampler does), and
 * the rate can change while the daemon runs (`bkg daemon config set otel_sampling_rate 0.1`).
 */
import { trace, type Context, type SpanContext } from '@opentelemetry/api';
import { SamplingDecision, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace-base';
import { isSamplingRate } from './rate.js';

export class AdjustableSampler implements Sampler {
  private upper = 0;
  private current = 0;

  constructor(rate: number) {
    this.rate = rate;
  }

  get rate(): number {
    return this.current;
  }

  set rate(rate: number) {
    if (!isSamplingRate(rate)) throw new RangeError(`sampling rate ${String(rate)} is not between 0.0 and 1.0`);
    this.current = rate;
    this.upper = Math.floor(rate * 0xffffffff);
  }

  shouldSample(ctx: Context, traceId: string): SamplingResult {
    const parent: SpanContext | undefined = trace.getSpanContext(ctx);
    if (parent && trace.isSpanContextValid(parent)) {
      return { decision: parent.traceFlags & 1 ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD };
    }
    return { decision: this.keeps(traceId) ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD };
  }

  private keeps(traceId: string): boolean {
    if (this.current >= 1) return true;
    if (this.current <= 0) return false;
    let acc = 0;
    for (let i = 0; i < traceId.length / 8; i++) acc = (acc ^ parseInt(traceId.slice(i * 8, i * 8 + 8), 16)) >>> 0;
    return acc < this.upper;
  }

  toString(): string {
    return `AdjustableSampler{rate=${this.current}}`;
  }
}
