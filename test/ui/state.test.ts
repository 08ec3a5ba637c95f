/** The dashboard's state without ink: the reducer over snapshots and events, sorting and filtering, key presses, the store's frames. */
import { describe, expect, it } from 'vitest';
import type { DaemonEvent } from '../../src/api/schema/events.js';
import { notForThisKey } from '../../src/ui/data/snapshot.js';
import { onKey, type KeyPress } from '../../src/ui/state/keys.js';
import { reduce, type Action } from '../../src/ui/state/reducer.js';
import { selectedSandbox, visibleSandboxes } from '../../src/ui/state/select.js';
import { Store } from '../../src/ui/state/store.js';
import type { DashboardState } from '../../src/ui/state/types.js';
import { audit, event, MiB, READONLY_REFUSAL, sample, stateOf, T0, usage, view } from './fixtures.js';

const web = view('web');
const api = view('api', { runtime: 'python', namespace: 'team' });
const old = view('old', { status: 'stopped', started_at: null, idle_expires_at: null });

/** Press keys (plain characters, or named keys) and apply what they do; the effects in order. */
function press(s: DashboardState, ...keys: (string | KeyPress)[]): { s: DashboardState; effects: unknown[] } {
  const effects: unknown[] = [];
  for (const k of keys) {
    const r = typeof k === 'string' ? onKey(s, k, {}) : onKey(s, '', k);
    for (const a of r.actions) s = reduce(s, a);
    if (r.effect) effects.push(r.effect);
  }
  return { s, effects };
}

describe('the reducer', () => {
  it('takes the snapshot, then usage samples: CPU, memory against the limit, history for the sparklines', () => {
    let s = stateOf([web, old]);
    expect(Object.keys(s.sandboxes).sort()).toEqual(['id-old', 'id-web']);
    s = reduce(s, { type: 'event', event: usage([sample(web, { cpu_percent: 40, memory_bytes: 100 * MiB })], 1) });
    s = reduce(s, { type: 'event', event: usage([sample(web, { cpu_percent: 60, memory_bytes: 120 * MiB })], 2) });
    const row = s.sandboxes['id-web'];
    expect(row?.usage).toMatchObject({ cpu_percent: 60, memory_bytes: 120 * MiB, memory_limit_bytes: 256 * MiB });
    expect(row?.cpu).toEqual([40, 60]);
    expect(row?.memory).toEqual([100 * MiB, 120 * MiB]);
    expect(s.now).toBe(T0 + 2000);
    expect(s.sandboxes['id-old']?.usage).toBeNull();
  });

  it('follows lifecycle events: stopped clears usage, OOM is noted, deleted removes the row, a new sandbox appears', () => {
    let s = stateOf([web, old], [{ type: 'event', event: usage([sample(web)]) }]);
    const ref = { id: web.id, name: web.name, namespace: web.namespace, status: 'stopped' };
    s = reduce(s, { type: 'event', event: event({ type: 'sandbox.oom_killed', sandbox: ref, actor: 'daemon' }) });
    expect(s.sandboxes['id-web']).toMatchObject({ status: 'stopped', usage: null, note: 'OOM-killed' });
    s = reduce(s, { type: 'event', event: event({ type: 'sandbox.deleted', sandbox: { ...ref, status: 'stopped' }, actor: 'key-1' }) });
    expect(s.sandboxes['id-web']).toBeUndefined();
    s = reduce(s, { type: 'event', event: event({ type: 'sandbox.created', sandbox: { id: 'id-new', name: 'new', namespace: 'default', status: 'created' }, actor: 'key-1' }) });
    expect(s.sandboxes['id-new']).toMatchObject({ name: 'new', status: 'created', view: null });
    s = reduce(s, { type: 'sandbox', view: view('new', { id: 'id-new', status: 'created' }) });
    expect(s.sandboxes['id-new']?.view?.limits.memory_mb).toBe(256);
  });

  it('keeps recent commands from exec events and the logs route, newest first, one line per exec', () => {
    const ref = { id: web.id, name: web.name, namespace: web.namespace, status: 'running' };
    let s = stateOf([web]);
    s = reduce(s, { type: 'event', event: event({ type: 'exec.started', sandbox: ref, exec: { id: 'x1', cmd: ['make'], actor: 'k' } }, 1) });
    expect(s.sandboxes['id-web']?.execs[0]).toMatchObject({ id: 'x1', running: true });
    s = reduce(s, { type: 'event', event: event({ type: 'exec.finished', sandbox: ref, exec: { id: 'x1', cmd: ['make'], actor: 'k', exit_code: 2, signal: null, timed_out: false, oom_killed: false, duration_ms: 1500, limits_hit: [] } }, 3) });
    s = reduce(s, { type: 'detail', id: 'id-web' });
    s = reduce(s, { type: 'logs', id: 'id-web', logs: { ok: true, items: [{ id: 'x0', cmd: ['ls'], exit_code: 0, signal: null, timed_out: false, oom_killed: false, duration_ms: 12, started_at: new Date(T0 - 60_000).toISOString(), actor: 'k' }, { id: 'x1', cmd: ['make'], exit_code: 2, signal: null, timed_out: false, oom_killed: false, duration_ms: 1500, started_at: new Date(T0 + 1000).toISOString(), actor: 'k' }] } });
    expect(s.sandboxes['id-web']?.execs.map((e) => [e.id, e.running, e.exit_code])).toEqual([['x1', false, 2], ['x0', false, 0]]);
    expect(s.detail?.logs.status).toBe('ok');
  });

  it('tails the audit log without duplicates; model pulls and access requests update their views', () => {
    let s = stateOf([]);
    s = reduce(s, { type: 'event', event: event({ type: 'audit', event: audit(3, 'key.create') }) });
    s = reduce(s, { type: 'event', event: event({ type: 'audit', event: audit(3, 'key.create') }) });
    expect(s.audit.items.map((a) => a.seq)).toEqual([1, 2, 3]);
    const job = { id: 'job-1', model_id: null, source: 'https://x/m.gguf', status: 'downloading' as const, bytes_done: 50, bytes_total: 100, error: null, created_at: new Date(T0).toISOString(), updated_at: new Date(T0).toISOString() };
    s = reduce(s, { type: 'event', event: event({ type: 'model.pull', job }) });
    expect(s.pulls['job-1']?.bytes_done).toBe(50);
    const req = { ...s.requests.items[0], status: 'approved' } as DashboardState['requests']['items'][number];
    s = reduce(s, { type: 'event', event: event({ type: 'model.access_request', request: req }) });
    expect(s.requests.items[0]?.status).toBe('approved');
  });

  it('a section the key may not read says so, without asking the daemon', () => {
    const refused = notForThisKey('readonly', 'list API keys');
    const s = stateOf([web], [], { role: 'readonly', snapshot: { keys: refused } });
    expect(s.role).toBe('readonly');
    expect(s.keys).toMatchObject({ status: 'forbidden', message: 'read-only keys cannot list API keys: this view needs an admin key' });
  });

  it('tracks the stream: ready with a new run takes its last id, events advance it', () => {
    let s = stateOf([]);
    s = reduce(s, { type: 'ready', ready: { type: 'stream.ready', run: 'r1', last_id: 40, oldest_id: 1, replayed: 0 } });
    expect(s.connection).toMatchObject({ status: 'live', run: 'r1', lastId: 40 });
    const e = { ...usage([]), id: 41 } as DaemonEvent;
    s = reduce(s, { type: 'event', event: e });
    expect(s.connection.lastId).toBe(41);
    s = reduce(s, { type: 'disconnected', error: 'the event stream closed' });
    expect(s.connection.status).toBe('reconnecting');
    s = reduce(s, { type: 'ready', ready: { type: 'stream.ready', run: 'r1', last_id: 45, oldest_id: 1, replayed: 4 } });
    expect(s.connection.lastId).toBe(41); // the replay brings it forward
    s = reduce(s, { type: 'ready', ready: { type: 'stream.ready', run: 'r2', last_id: 3, oldest_id: 1, replayed: 0 } });
    expect(s.connection).toMatchObject({ run: 'r2', lastId: 3 });
  });
});

describe('sorting and filtering', () => {
  const busy = (s: DashboardState): DashboardState => reduce(s, { type: 'event', event: usage([sample(web, { cpu_percent: 5, memory_bytes: 200 * MiB }), sample(api, { cpu_percent: 90, memory_bytes: 10 * MiB })]) });

  it('sorts by name, then each column in turn with o (numbers busiest first), O reverses', () => {
    let s = busy(stateOf([web, api, old]));
    expect(visibleSandboxes(s).map((r) => r.name)).toEqual(['api', 'old', 'web']);
    ({ s } = press(s, 'o', 'o', 'o')); // namespace, state, cpu
    expect(s.ui.sort).toEqual({ column: 'cpu', desc: true });
    expect(visibleSandboxes(s).map((r) => r.name)).toEqual(['api', 'web', 'old']);
    ({ s } = press(s, 'o'));
    expect(visibleSandboxes(s).map((r) => r.name)).toEqual(['web', 'api', 'old']);
    ({ s } = press(s, 'O'));
    expect(visibleSandboxes(s).map((r) => r.name)).toEqual(['old', 'api', 'web']);
  });

  it('/ filters by words (name, namespace, state, runtime); Enter keeps it, Esc clears it', () => {
    let s = stateOf([web, api, old]);
    ({ s } = press(s, '/', 'p', 'y'));
    expect(s.ui.filtering).toBe(true);
    expect(visibleSandboxes(s).map((r) => r.name)).toEqual(['api']);
    ({ s } = press(s, { backspace: true }, { backspace: true }, 's', 't', 'o', 'p'));
    expect(visibleSandboxes(s).map((r) => r.name)).toEqual(['old']);
    ({ s } = press(s, { return: true }));
    expect(s.ui).toMatchObject({ filtering: false, filter: 'stop' });
    ({ s } = press(s, { escape: true }));
    expect(s.ui.filter).toBe('');
    expect(visibleSandboxes(s)).toHaveLength(3);
  });

  it('moves the selection within what is shown', () => {
    let s = stateOf([web, api, old]);
    expect(selectedSandbox(s)?.name).toBe('api');
    ({ s } = press(s, 'j', { downArrow: true }, { downArrow: true }));
    expect(selectedSandbox(s)?.name).toBe('web');
    ({ s } = press(s, 'g'));
    expect(selectedSandbox(s)?.name).toBe('api');
  });
});

describe('key presses', () => {
  it('delete asks first: only y deletes, n and Esc do nothing', () => {
    let s = stateOf([web]);
    let r = press(s, 'd');
    expect(r.effects).toEqual([]);
    expect(r.s.ui.overlay).toMatchObject({ kind: 'confirm', confirm: { kind: 'delete', label: 'web' } });
    expect(press(r.s, 'n').s.ui.overlay).toBeNull();
    expect(press(r.s, { escape: true }).effects).toEqual([]);
    r = press(r.s, 'y');
    expect(r.effects).toEqual([{ kind: 'delete', id: 'id-web', name: 'web' }]);
    s = r.s;
    expect(s.ui.overlay).toBeNull();
  });

  it('start, stop, exec, shell, quit; a read-only key gets none of the actions', () => {
    const s = stateOf([web]);
    expect(press(s, 's', 'x', 't', 'q').effects).toEqual([
      { kind: 'start', id: 'id-web', name: 'web' }, { kind: 'stop', id: 'id-web', name: 'web' }, { kind: 'shell', id: 'id-web', name: 'web' }, { kind: 'quit' },
    ]);
    const typed = press(s, 'e', 'l', 's', ' ', '/', { return: true });
    expect(typed.effects).toEqual([{ kind: 'exec', id: 'id-web', name: 'web', command: 'ls /' }]);
    expect(typed.s.ui.overlay).toMatchObject({ kind: 'exec', exec: { running: true } });
    const ro = stateOf([web], [], { role: 'readonly', snapshot: { keys: READONLY_REFUSAL } });
    const r = press(ro, 's', 'x', 'd', 'e', 't');
    expect(r.effects).toEqual([]);
    expect(r.s.ui.overlay).toBeNull();
    expect(press(ro, { ctrl: true }, 'q').effects).toEqual([{ kind: 'quit' }]);
    // a command or a shell needs a running sandbox
    const stopped = press(stateOf([old]), 't', 'e');
    expect(stopped.effects).toEqual([]);
    expect(stopped.s.ui).toMatchObject({ overlay: null, flash: { text: 'old is not running (s starts it)', error: true } });
  });

  it('switches views with numbers and Tab; ? opens the help, any key closes it', () => {
    let s = stateOf([web]);
    ({ s } = press(s, '3'));
    expect(s.ui.view).toBe('audit');
    ({ s } = press(s, { tab: true }));
    expect(s.ui.view).toBe('models');
    ({ s } = press(s, { tab: true, shift: true }, { tab: true, shift: true }));
    expect(s.ui.view).toBe('keys');
    ({ s } = press(s, '?'));
    expect(s.ui.overlay).toEqual({ kind: 'help' });
    const closed = press(s, 'q');
    expect(closed.effects).toEqual([]); // q closes the help rather than quitting
    expect(closed.s.ui.overlay).toBeNull();
  });

  it('revokes keys, verifies the audit chain, approves and denies requests (with confirmation)', () => {
    const s = stateOf([web]);
    const k = press(s, '2', 'r', 'y');
    expect(k.effects).toEqual([{ kind: 'revoke', id: expect.stringMatching(/^key-/) }]);
    expect(press(s, '3', 'v').effects).toEqual([{ kind: 'verify' }]);
    expect(press(s, '4', 'a', 'y').effects).toEqual([{ kind: 'approve', id: 'req-1' }]);
    expect(press(s, '4', 'n', 'y').effects).toEqual([{ kind: 'deny', id: 'req-1' }]);
  });
});

describe('the store', () => {
  it('coalesces a burst of events into one notification per frame; a key press notifies at once', async () => {
    const store = new Store(stateOf([web]), 50);
    let notified = 0;
    store.subscribe(() => notified++);
    const ev = (): Action => ({ type: 'event', event: usage([sample(web)]) });
    store.dispatch(ev());
    for (let i = 0; i < 20; i++) store.dispatch(ev());
    expect(notified).toBe(1);
    await new Promise((r) => setTimeout(r, 80));
    expect(notified).toBe(2);
    store.dispatch({ type: 'view', view: 'audit' }, true);
    expect(notified).toBe(3);
    store.dispatch({ type: 'view', view: 'audit' }, true); // nothing changed: nobody is told
    expect(notified).toBe(3);
    store.close();
  });
});
