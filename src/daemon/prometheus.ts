/**
 * A tiny Prometheus registry: counters, gauges (set directly or read by a collect callback at
 * scrape time) and histograms with fixed buckets, rendered in the text exposition format 0.0.4.
 * Every sample of a metric carries exactly the metric's declared label names.
 */

export type Labels = Readonly<Record<string, string>>;
export interface Sample {
  readonly labels?: Labels;
  readonly value: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabelValue(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatLabels(names: readonly string[], values: readonly string[]): string {
  if (names.length === 0) return '';
  return `{${names.map((n, i) => `${n}="${escapeLabelValue(values[i] ?? '')}"`).join(',')}}`;
}

abstract class Metric {
  abstract readonly type: 'counter' | 'gauge' | 'histogram';

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {
    if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${JSON.stringify(name)}`);
    const seen = new Set<string>();
    for (const l of labelNames) {
      if (!LABEL_NAME.test(l) || l.startsWith('__')) throw new Error(`${name}: invalid label name ${JSON.stringify(l)}`);
      if (seen.has(l)) throw new Error(`${name}: duplicate label name ${l}`);
      seen.add(l);
    }
  }

  /** The label values in declaration order, checking that exactly the declared names are given. */
  protected labelValues(labels: Labels = {}): string[] {
    const keys = Object.keys(labels);
    if (keys.length !== this.labelNames.length || keys.some((k) => !this.labelNames.includes(k))) {
      throw new Error(`${this.name}: expected labels {${this.labelNames.join(',')}}, got {${keys.join(',')}}`);
    }
    return this.labelNames.map((n) => String(labels[n]));
  }

  protected header(): string {
    return `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`;
  }

  abstract render(): string;
}

/** Series keyed by their label values (JSON of the array: unambiguous for any strings). */
class SeriesMap<T> {
  private readonly map = new Map<string, { values: string[]; data: T }>();

  get(values: string[], init: () => T): T {
    const key = JSON.stringify(values);
    let entry = this.map.get(key);
    if (!entry) {
      entry = { values, data: init() };
      this.map.set(key, entry);
    }
    return entry.data;
  }

  entries(): Iterable<{ values: string[]; data: T }> {
    return this.map.values();
  }
}

export class Counter extends Metric {
  readonly type = 'counter';
  private readonly series = new SeriesMap<{ v: number }>();

  inc(labels?: Labels, by = 1): void {
    if (!(by >= 0) || !Number.isFinite(by)) throw new Error(`${this.name}: a counter only increases (got ${by})`);
    this.series.get(this.labelValues(labels), () => ({ v: 0 })).v += by;
  }

  render(): string {
    let out = this.header();
    for (const { values, data } of this.series.entries()) out += `${this.name}${formatLabels(this.labelNames, values)} ${formatValue(data.v)}\n`;
    return out;
  }
}

export class Gauge extends Metric {
  readonly type = 'gauge';
  private readonly series = new SeriesMap<{ v: number }>();

  constructor(name: string, help: string, labelNames: readonly string[], private readonly collect?: () => number | readonly Sample[]) {
    super(name, help, labelNames);
  }

  set(labels: Labels | undefined, value: number): void {
    if (this.collect) throw new Error(`${this.name}: a gauge with a collect callback cannot be set`);
    this.series.get(this.labelValues(labels), () => ({ v: 0 })).v = value;
  }

  render(): string {
    let out = this.header();
    if (this.collect) {
      const got = this.collect();
      const samples: readonly Sample[] = typeof got === 'number' ? [{ value: got }] : got;
      for (const s of samples) out += `${this.name}${formatLabels(this.labelNames, this.labelValues(s.labels))} ${formatValue(s.value)}\n`;
    } else {
      for (const { values, data } of this.series.entries()) out += `${this.name}${formatLabels(this.labelNames, values)} ${formatValue(data.v)}\n`;
    }
    return out;
  }
}

export class Histogram extends Metric {
  readonly type = 'histogram';
  private readonly series = new SeriesMap<{ counts: number[]; sum: number; count: number }>();
  readonly buckets: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[] = DEFAULT_BUCKETS) {
    super(name, help, labelNames);
    if (labelNames.includes('le')) throw new Error(`${name}: "le" is reserved in histograms`);
    if (buckets.length === 0 || buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= (buckets[i - 1] as number)))) {
      throw new Error(`${name}: buckets must be finite and strictly increasing`);
    }
    this.buckets = [...buckets];
  }

  observe(labels: Labels | undefined, value: number): void {
    if (Number.isNaN(value)) throw new Error(`${this.name}: cannot observe NaN`);
    const s = this.series.get(this.labelValues(labels), () => ({ counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    const i = this.buckets.findIndex((b) => value <= b);
    if (i >= 0) s.counts[i] = (s.counts[i] ?? 0) + 1;
    s.sum += value;
    s.count += 1;
  }

  render(): string {
    let out = this.header();
    const names = [...this.labelNames, 'le'];
    for (const { values, data } of this.series.entries()) {
      let cumulative = 0;
      this.buckets.forEach((b, i) => {
        cumulative += data.counts[i] ?? 0;
        out += `${this.name}_bucket${formatLabels(names, [...values, formatValue(b)])} ${cumulative}\n`;
      });
      out += `${this.name}_bucket${formatLabels(names, [...values, '+Inf'])} ${data.count}\n`;
      out += `${this.name}_sum${formatLabels(this.labelNames, values)} ${formatValue(data.sum)}\n`;
      out += `${this.name}_count${formatLabels(this.labelNames, values)} ${data.count}\n`;
    }
    return out;
  }
}

export class Registry {
  static readonly contentType = 'text/plain; version=0.0.4; charset=utf-8';
  private readonly metrics = new Map<string, Metric>();

  private register<M extends Metric>(metric: M): M {
    if (this.metrics.has(metric.name)) throw new Error(`metric ${metric.name} is already registered`);
    this.metrics.set(metric.name, metric);
    return metric;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.register(new Counter(name, help, labelNames));
  }

  /** A gauge; with `collect`, its samples are read at each render instead of set. */
  gauge(name: string, help: string, labelNames: readonly string[] = [], collect?: () => number | readonly Sample[]): Gauge {
    return this.register(new Gauge(name, help, labelNames, collect));
  }

  histogram(name: string, help: string, labelNames: readonly string[] = [], buckets: readonly number[] = DEFAULT_BUCKETS): Histogram {
    return this.register(new Histogram(name, help, labelNames, buckets));
  }

  /** The text exposition format 0.0.4. */
  render(): string {
    return [...this.metrics.values()].map((m) => m.render()).join('');
  }
}
