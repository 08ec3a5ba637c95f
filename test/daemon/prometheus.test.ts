import { describe, expect, it } from 'vitest';
import { Registry } from '../../src/daemon/prometheus.js';

describe('metrics registry', () => {
  it('renders counters with escaped labels and help', () => {
    const r = new Registry();
    const c = r.counter('bkg_things_total', 'Things.\nWith a back\\slash.', ['kind']);
    c.inc({ kind: 'a' });
    c.inc({ kind: 'a' }, 2);
    c.inc({ kind: 'q"uo\\te\nnl' });
    expect(r.render()).toBe(
      '# HELP bkg_things_total Things.\\nWith a back\\\\slash.\n' +
        '# TYPE bkg_things_total counter\n' +
        'bkg_things_total{kind="a"} 3\n' +
        'bkg_things_total{kind="q\\"uo\\\\te\\nnl"} 1\n',
    );
  });

  it('renders gauges, set or collected at render time', () => {
    const r = new Registry();
    r.gauge('bkg_up', 'Up.').set(undefined, 1);
    let n = 0;
    r.gauge('bkg_sandboxes', 'Sandboxes.', ['state'], () => [
      { labels: { state: 'running' }, value: ++n },
      { labels: { state: 'stopped' }, value: Infinity },
    ]);
    r.gauge('bkg_scalar', 'Scalar.', [], () => -0.5);
    const text = r.render();
    expect(text).toContain('# TYPE bkg_up gauge\nbkg_up 1\n');
    expect(text).toContain('bkg_sandboxes{state="running"} 1\nbkg_sandboxes{state="stopped"} +Inf\n');
    expect(text).toContain('bkg_scalar -0.5\n');
    expect(r.render()).toContain('bkg_sandboxes{state="running"} 2\n');
  });

  it('renders histograms with cumulative buckets, +Inf, _sum and _count', () => {
    const r = new Registry();
    const h = r.histogram('bkg_latency_seconds', 'Latency.', ['op'], [0.1, 1]);
    h.observe({ op: 'x' }, 0.05);
    h.observe({ op: 'x' }, 0.1);
    h.observe({ op: 'x' }, 0.5);
    h.observe({ op: 'x' }, 5);
    expect(r.render()).toBe(
      '# HELP bkg_latency_seconds Latency.\n' +
        '# TYPE bkg_latency_seconds histogram\n' +
        'bkg_latency_seconds_bucket{op="x",le="0.1"} 2\n' +
        'bkg_latency_seconds_bucket{op="x",le="1"} 3\n' +
        'bkg_latency_seconds_bucket{op="x",le="+Inf"} 4\n' +
        'bkg_latency_seconds_sum{op="x"} 5.65\n' +
        'bkg_latency_seconds_count{op="x"} 4\n',
    );
  });

  it('refuses misuse', () => {
    const r = new Registry();
    const c = r.counter('bkg_a_total', 'A.', ['x']);
    expect(() => c.inc({ x: '1' }, -1)).toThrow(/only increases/);
    expect(() => c.inc({})).toThrow(/expected labels/);
    expect(() => c.inc({ x: '1', y: '2' })).toThrow(/expected labels/);
    expect(() => r.counter('bkg_a_total', 'again')).toThrow(/already registered/);
    expect(() => r.counter('bad-name', 'x')).toThrow(/invalid metric name/);
    expect(() => r.counter('bkg_b', 'x', ['__reserved'])).toThrow(/invalid label name/);
    expect(() => r.counter('bkg_c', 'x', ['a', 'a'])).toThrow(/duplicate/);
    expect(() => r.histogram('bkg_d', 'x', ['le'])).toThrow(/reserved/);
    expect(() => r.histogram('bkg_e', 'x', [], [1, 1])).toThrow(/increasing/);
    expect(() => r.gauge('bkg_f', 'x', [], () => 1).set(undefined, 2)).toThrow(/collect/);
  });
});
