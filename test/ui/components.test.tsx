/** The dashboard's ink components, rendered (ink-testing-library, and a terminal of any size): what a user sees and what keys do. */
import { render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { App, Frame } from '../../src/ui/components/App.js';
import { onKey, BINDINGS, type Effect, type KeyPress } from '../../src/ui/state/keys.js';
import type { Action } from '../../src/ui/state/reducer.js';
import { Store } from '../../src/ui/state/store.js';
import type { DashboardState } from '../../src/ui/state/types.js';
import { audit, event, MiB, READONLY_REFUSAL, sample, stateOf, usage, view } from './fixtures.js';
import { renderSized, settle } from './terminal.js';

const web = view('web', { limits: { memory_mb: 256, cpus: 1, pids: 64, disk_mb: 1024, idle_timeout_s: 600 } });
const api = view('api', { runtime: 'python', namespace: 'team' });
const old = view('old', { status: 'stopped', started_at: null, idle_expires_at: null });
const busy: Action = { type: 'event', event: usage([sample(web, { cpu_percent: 12.4, memory_bytes: 64 * MiB }), sample(api, { cpu_percent: 91, memory_bytes: 120 * MiB, memory_limit_bytes: 128 * MiB })], 1) };

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** The App over a store, keys applied as the controller applies them, effects collected instead of run. */
function mount(state: DashboardState, size?: { columns: number; rows: number }) {
  const store = new Store(state, 0);
  const effects: Effect[] = [];
  const handle = (input: string, key: KeyPress): void => {
    const r = onKey(store.get(), input, key);
    store.dispatch(r.actions, true);
    if (r.effect) effects.push(r.effect);
  };
  const tree = <App store={store} onKey={handle} theme={{ color: false }} />;
  if (size) {
    const t = renderSized(tree, size.columns, size.rows);
    cleanups.push(t.unmount);
    return { store, effects, frame: t.lastFrame, press: t.press, resize: t.resize, renders: t.renders };
  }
  const t = render(tree);
  cleanups.push(t.unmount);
  return { store, effects, frame: () => t.lastFrame() ?? '', press: async (k: string) => { t.stdin.write(k); await settle(); }, resize: async () => {}, renders: () => 0 };
}

const lines = (frame: string): string[] => frame.split('\n');
const rowOf = (frame: string, name: string): string => lines(frame).find((l) => l.slice(2).startsWith(`${name} `)) ?? '';

describe('the sandboxes table', () => {
  it('shows each sandbox with its state, CPU %, memory against its limit as a bar, pids, uptime and idle time left', () => {
    const { frame } = mount(stateOf([web, api, old], [busy]));
    const f = frame();
    expect(lines(f)[1]).toMatch(/NAME↑\s+NAMESPACE\s+STATE\s+RUNTIME\s+CPU%\s+MEMORY\s+PIDS\s+UP\s+IDLE/);
    const w = rowOf(f, 'web');
    // 64 of 256 MiB: a quarter of the bar
    expect(w).toMatch(/web\s+default\s+running\s+shell\s+12 ###---------\s+64M\/256M\s+3\s+5m\s+8m$/);
    expect(rowOf(f, 'api')).toMatch(/api\s+team\s+running\s+python\s+91 ###########-\s+120M\/128M\s+3/);
    expect(rowOf(f, 'old')).toMatch(/old\s+default\s+stopped\s+shell\s+-\s+256M\s+-\s+-\s+-$/);
    expect(f).toContain('2/3 running · connecting… · unix:///tmp/bkg.sock');
  });

  it('sorts with o (CPU: busiest first) and O, filters with / and clears the filter with Esc', async () => {
    const { frame, press } = mount(stateOf([web, api, old], [busy]));
    const order = (): string[] => ['api', 'old', 'web'].map((n) => [n, lines(frame()).indexOf(rowOf(frame(), n))] as const).sort((a, b) => a[1] - b[1]).map(([n]) => n);
    expect(order()).toEqual(['api', 'old', 'web']);
    await press('o');
    await press('o');
    await press('o');
    expect(lines(frame())[1]).toContain('CPU%↓');
    expect(order()).toEqual(['api', 'web', 'old']);
    await press('O');
    expect(order()).toEqual(['old', 'web', 'api']);
    await press('/');
    await press('w');
    await press('e');
    expect(frame()).toContain('/we');
    expect(rowOf(frame(), 'web')).not.toBe('');
    expect(rowOf(frame(), 'api')).toBe('');
    await press('\r');
    expect(frame()).toContain('filter "we" (Esc clears)');
    await press('\x1b');
    await settle(60); // a lone Esc waits for the rest of an escape sequence first
    expect(rowOf(frame(), 'api')).not.toBe('');
  });

  it('the detail pane: limits, sparklines, recent commands with exit codes and durations, workspace changes', () => {
    const ref = { id: web.id, name: 'web', namespace: 'default', status: 'running' };
    const finished = (id: string, cmd: string[], exit: number, ms: number, at: number): Action => ({
      type: 'event', event: event({ type: 'exec.finished', sandbox: ref, exec: { id, cmd, actor: 'k', exit_code: exit, signal: null, timed_out: false, oom_killed: false, duration_ms: ms, limits_hit: [] } }, at),
    });
    const s = stateOf([web], [
      { type: 'event', event: usage([sample(web, { cpu_percent: 10 })], 1) },
      { type: 'event', event: usage([sample(web, { cpu_percent: 80 })], 2) },
      finished('x1', ['make', 'test'], 0, 850, 3),
      finished('x2', ['sh', '-c', 'exit 3'], 3, 2400, 4),
      { type: 'detail', id: web.id },
      { type: 'changes', id: web.id, changes: { ok: true, items: [{ path: 'src/new.py', kind: 'added', type: 'file' }, { path: 'build', kind: 'deleted', type: 'dir' }] } },
    ]);
    const f = mount(s).frame();
    expect(f).toMatch(/── web · default · running · shell · up 5m · idle stop in 8m ─+/);
    expect(f).toContain('limits  memory 256M  cpus 1  pids 64  disk 1G  timeout -  idle 10m  network none');
    expect(f).toMatch(/cpu\s+▂▇ 80%\s+mem\s+▃▃ 64M\/256M\s+pids 3\/64\s+disk 2M\/1G/);
    // newest first (by when they started), each with how it ended and how long it took
    expect(f).toMatch(/\n\s+0\s+850ms\s+2s\s+make test\s+A {2}src\/new\.py\n\s+3\s+2\.4s\s+2s\s+sh -c 'exit 3'\s+D {2}build\/\n/);
  });

  it('runs a command typed in the exec prompt and shows its output and exit code', async () => {
    const { frame, press, effects, store } = mount(stateOf([web]));
    await press('e');
    for (const c of 'ls /') await press(c);
    expect(frame()).toContain('$ ls /');
    await press('\r');
    expect(effects).toEqual([{ kind: 'exec', id: web.id, name: 'web', command: 'ls /' }]);
    store.dispatch({ type: 'exec-result', sandbox: web.id, result: { exit: 'exit 0', duration_ms: 42, output: ['bin', 'etc'] } }, true);
    await settle();
    expect(frame()).toMatch(/bin\n.*etc\n.*exit 0 · 42ms/);
  });
});

describe('keys, help and confirmation', () => {
  it('? lists every key binding; any key closes the list', async () => {
    const { frame, press } = mount(stateOf([web]), { columns: 100, rows: 30 });
    await press('?');
    for (const b of BINDINGS) expect(frame()).toContain(`${b.keys.padEnd(21)}${b.what}`);
    expect(frame()).toContain('any key closes this list');
    await press('x');
    expect(frame()).not.toContain('any key closes this list');
  });

  it('delete asks for confirmation: n keeps the sandbox, y deletes it', async () => {
    const { frame, press, effects } = mount(stateOf([web]));
    await press('d');
    expect(lines(frame()).at(-1)).toBe('Delete sandbox web and all its files? (y/n)');
    await press('n');
    expect(frame()).not.toContain('(y/n)');
    expect(effects).toEqual([]);
    await press('d');
    await press('y');
    expect(effects).toEqual([{ kind: 'delete', id: web.id, name: 'web' }]);
  });

  it('with a read-only key the actions are hidden and do nothing; admin views say they need an admin key', async () => {
    const { frame, press, effects } = mount(stateOf([web], [], { role: 'readonly', snapshot: { keys: READONLY_REFUSAL, audit: { ...READONLY_REFUSAL, message: 'read-only keys cannot read the audit log' } } }));
    const footer = lines(frame()).at(-1) ?? '';
    expect(footer).toBe('/ filter  o sort  ? help  q quit');
    expect(frame()).toContain('read-only key');
    for (const k of ['s', 'x', 'd', 'e', 't']) await press(k);
    expect(effects).toEqual([]);
    expect(frame()).not.toContain('(y/n)');
    await press('?');
    expect(frame()).not.toContain('start or stop');
    expect(frame()).toContain('the actions on sandboxes are hidden');
    await press(' ');
    await press('2');
    expect(frame()).toContain('API keys: this view needs an admin key.');
    expect(frame()).toContain(READONLY_REFUSAL.message);
    await press('3');
    expect(frame()).toContain('audit log: this view needs an admin key.');
  });

  it('the admin views: keys (revoke), audit tail (verify), models and access requests', async () => {
    const s = stateOf([web], [{ type: 'event', event: event({ type: 'audit', event: audit(3, 'sandbox.stop', { outcome: 'denied', actor: 'key-ro' }) }) }]);
    const { frame, press, effects } = mount(s);
    await press('2');
    expect(frame()).toMatch(/> ci\s+namespace\s+default\s+bkg_abcd\.\.\.wxyz/);
    await press('r');
    expect(lines(frame()).at(-1)).toBe('Revoke key ci (bkg_abcd...wxyz)? (y/n)');
    await press('y');
    await press('3');
    expect(frame()).toMatch(/\s+3 12:00:03 key-ro\s+sandbox\.stop\s+denied/);
    expect(frame()).toContain('chain: not verified this session');
    await press('v');
    await press('4');
    expect(frame()).toMatch(/> tiny\s+default\s+key-ci\s+pending/);
    await press('a');
    await press('y');
    expect(effects).toEqual([{ kind: 'revoke', id: 'key-ci' }, { kind: 'verify' }, { kind: 'approve', id: 'req-1' }]);
  });
});

describe('the terminal', () => {
  const size = (frame: string): { width: number; height: number } => ({ width: Math.max(...lines(frame).map((l) => [...l].length)), height: lines(frame).length });

  it('fits 80×24 (every view and the help), the table with all its columns', async () => {
    const t = mount(stateOf([web, api, old, view('a-very-long-sandbox-name-indeed')], [busy]), { columns: 80, rows: 24 });
    expect(size(t.frame())).toEqual({ width: 80, height: 23 });
    expect(lines(t.frame())[1]).toMatch(/^ {2}NAME↑\s+NAMESPACE STATE {3}RUNTIME {2}CPU% MEMORY\s+PIDS {3}UP IDLE$/);
    expect(rowOf(t.frame(), 'web')).toMatch(/web\s+default\s+running shell\s+12 ##----\s+64M\/256M\s+3\s+5m\s+8m$/);
    expect(t.frame()).toContain('a-very-long-s…');
    for (const k of ['2', '3', '4', '?']) {
      await t.press(k);
      expect(size(t.frame())).toEqual({ width: 80, height: 23 });
    }
    await t.press('q'); // closes the help
    expect(t.frame()).not.toContain('any key closes this list');
  });

  it('follows resizes', async () => {
    const t = mount(stateOf([web], [busy]), { columns: 120, rows: 40 });
    expect(size(t.frame())).toEqual({ width: 120, height: 39 });
    await t.resize(80, 24);
    expect(size(t.frame())).toEqual({ width: 80, height: 23 });
    expect(rowOf(t.frame(), 'web')).toContain('64M/256M');
  });

  it('draws only when what it shows changes: an idle sandbox\'s usage event costs no render', async () => {
    const same = (atS: number): Action => ({ type: 'event', event: usage([sample(web)], atS) });
    // enough identical samples to fill the sparklines, within one second of uptime
    const t = mount(stateOf([web], Array.from({ length: 40 }, () => same(1.1))), { columns: 100, rows: 30 });
    await settle();
    const before = t.renders();
    t.store.dispatch(same(1.2), true);
    t.store.dispatch(same(1.3), true);
    await settle();
    expect(t.renders()).toBe(before);
    t.store.dispatch({ type: 'event', event: usage([sample(web, { cpu_percent: 55 })], 1.4) }, true);
    await settle();
    expect(t.renders()).toBe(before + 1);
    expect(rowOf(t.frame(), 'web')).toMatch(/\s55 /);
  });

  it('Frame renders any state at a given size without a store', () => {
    const t = render(<Frame s={stateOf([web])} columns={90} rows={20} theme={{ color: false }} />);
    cleanups.push(t.unmount);
    expect(size(t.lastFrame() ?? '')).toEqual({ width: 90, height: 19 });
  });
});
