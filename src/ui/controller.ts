/**
 * Everything the dashboard does outside its state: the first snapshot and the live feed into the
 * store (events that arrive while a snapshot loads wait for it, then apply in order), the detail
 * pane's REST fetches for the selected sandbox, and the effects of key presses (actions on
 * sandboxes, keys, access requests; the audit check; the shell). The state stays in the pure
 * reducer; this only dispatches.
 */
import type { DaemonEvent } from '../api/schema/events.js';
import type { ExecResponse } from '../client/types.js';
import type { FeedSink, Timers } from './data/live.js';
import { fetched, loadSnapshot, type DashboardClient } from './data/snapshot.js';
import { onKey, type Effect, type KeyPress } from './state/keys.js';
import type { Action, Snapshot } from './state/reducer.js';
import { selectedSandbox } from './state/select.js';
import type { Store } from './state/store.js';

export interface ControllerDeps {
  store: Store;
  client: DashboardClient;
  /** The first snapshot, already on its way. */
  snapshot: Promise<Snapshot>;
  /** Give the terminal to `bkg shell NAME` and take it back when it ends; its exit code. */
  shell(name: string): Promise<number>;
  /** Leave the dashboard: 0, or the error that made it impossible to go on. */
  quit(error?: unknown): void;
  now(): number;
  timers: Timers;
}

/** How long a message stays in the footer (a key press clears it sooner). */
const FLASH_MS = 8000;
/** Wait this long after the selection moves before fetching its details (scrolling fetches nothing). */
const DETAIL_DELAY_MS = 150;

/** How a command ended, in words. */
export function exitWords(r: Pick<ExecResponse, 'exit_code' | 'signal' | 'timed_out' | 'oom_killed' | 'exec_error'>): string {
  if (r.exec_error) return `could not start: ${r.exec_error}`;
  if (r.timed_out) return 'timed out';
  if (r.oom_killed) return 'out of memory (OOM-killed)';
  if (r.exit_code !== null) return `exit ${r.exit_code}`;
  return `killed by signal ${r.signal ?? '?'}`;
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class Controller {
  private buffer: DaemonEvent[] | null = [];
  private flashTimer: unknown = null;
  private detailTimer: unknown = null;
  private changesTimer: unknown = null;
  private detailFor: string | null = null;
  private unsubscribe: (() => void) | null = null;
  private closed = false;
  /** Whether the stream has been ready since we follow it (the first ready reloads the snapshot). */
  private following = false;

  constructor(private readonly d: ControllerDeps) {}

  /** Apply the first snapshot; rejects when the daemon cannot be read at all. */
  async start(): Promise<void> {
    this.applySnapshot(await this.d.snapshot);
    this.unsubscribe = this.d.store.subscribe(() => this.watchSelection());
    this.watchSelection();
  }

  /**
   * Follow the event stream from now on. The snapshot came first (for a fast first frame), so the
   * stream's first `ready` loads it again: whatever happened in between is in that one, and every
   * event after it follows (events wait while it loads).
   */
  follow(feed: { attach(sink: FeedSink): void }): void {
    feed.attach(this.sink());
  }

  close(): void {
    this.closed = true;
    this.unsubscribe?.();
    for (const t of [this.flashTimer, this.detailTimer, this.changesTimer]) if (t !== null) this.d.timers.clearTimeout(t);
  }

  /**
   * A key press: its state changes now, its effect (if any) after. Keys typed quickly (or a paste)
   * can arrive together as one input: outside a text field each is its own key press.
   */
  key(input: string, key: KeyPress): void {
    const state = this.d.store.get();
    const typing = state.ui.filtering || state.ui.overlay?.kind === 'exec';
    if (input.length > 1 && !typing && !key.ctrl && !key.meta) {
      for (const ch of input) this.key(ch, {});
      return;
    }
    const { actions, effect } = onKey(state, input, key);
    const clear: Action[] = state.ui.flash && (actions.length > 0 || effect) ? [{ type: 'flash-clear' }] : [];
    this.d.store.dispatch([...clear, ...actions], true);
    if (effect) void this.run(effect);
  }

  private sink(): FeedSink {
    return {
      event: (e) => {
        if (this.buffer) this.buffer.push(e);
        else this.onEvent(e);
      },
      ready: (r) => {
        this.dispatch({ type: 'ready', ready: r });
        if (!this.following) void this.reload();
        this.following = true;
      },
      gap: (g) => {
        this.dispatch({ type: 'gap', gap: g });
        void this.reload();
      },
      down: (m) => this.dispatch({ type: 'disconnected', error: m }),
    };
  }

  private dispatch(a: Action | Action[], urgent = false): void {
    if (!this.closed) this.d.store.dispatch(a, urgent);
  }

  private applySnapshot(s: Snapshot): void {
    const waiting = this.buffer ?? [];
    this.buffer = null;
    this.dispatch([{ type: 'snapshot', snapshot: s }, ...waiting.map((e): Action => ({ type: 'event', event: e }))], true);
  }

  /** Load the snapshot again (after a gap in the stream, or on R); false when it failed (said in the footer). */
  private async reload(): Promise<boolean> {
    if (this.buffer) return true; // one is loading; the events wait for it
    this.buffer = [];
    try {
      this.applySnapshot(await loadSnapshot(this.d.client, this.d.now));
      const sel = selectedSandbox(this.d.store.get());
      if (sel) this.loadDetail(sel.id);
      return true;
    } catch (err) {
      const waiting = this.buffer ?? [];
      this.buffer = null;
      this.dispatch(waiting.map((e): Action => ({ type: 'event', event: e })));
      this.flash(`could not reload: ${message(err)}`, true);
      return false;
    }
  }

  private onEvent(e: DaemonEvent): void {
    this.dispatch({ type: 'event', event: e });
    switch (e.type) {
      case 'sandbox.created': case 'sandbox.started': case 'sandbox.stopped': case 'sandbox.failed': case 'sandbox.expired': case 'sandbox.oom_killed':
        // the event names the sandbox; its limits, runtime and times come from REST
        this.fetchView(e.sandbox.id);
        break;
      case 'exec.finished':
        if (this.detailFor === e.sandbox.id) this.later('changes', 500, () => this.loadChanges(e.sandbox.id));
        break;
      case 'model.pull':
        if (e.job.status === 'done') void fetched(this.d.client.llmModels()).then((models) => this.dispatch({ type: 'models', models }));
        break;
      default:
        break;
    }
  }

  /** A sandbox's view from REST; a failed read (a slow or busy daemon) is tried again, twice, a second apart. */
  private fetchView(id: string, attempt = 0): void {
    this.d.client.getSandbox(id).then(
      (view) => this.dispatch({ type: 'sandbox', view }),
      () => {
        if (attempt < 2) this.d.timers.setTimeout(() => !this.closed && this.fetchView(id, attempt + 1), 1000);
      },
    );
  }

  /** When the selected sandbox changes, fetch its history and workspace changes (once it stays selected a moment). */
  private watchSelection(): void {
    const s = this.d.store.get();
    if (s.ui.view !== 'sandboxes') return;
    const id = selectedSandbox(s)?.id ?? null;
    if (id === this.detailFor || id === null) return;
    this.detailFor = id;
    this.later('detail', DETAIL_DELAY_MS, () => this.loadDetail(id));
  }

  private loadDetail(id: string): void {
    this.detailFor = id;
    this.dispatch({ type: 'detail', id });
    void fetched(this.d.client.logs(id)).then((logs) => this.dispatch({ type: 'logs', id, logs }));
    this.loadChanges(id);
  }

  private loadChanges(id: string): void {
    void fetched(this.d.client.changes(id)).then((changes) => this.dispatch({ type: 'changes', id, changes }));
  }

  private later(which: 'detail' | 'changes' | 'flash', ms: number, fn: () => void): void {
    const field = `${which}Timer` as const;
    if (this[field] !== null) this.d.timers.clearTimeout(this[field]);
    this[field] = this.d.timers.setTimeout(() => {
      this[field] = null;
      if (!this.closed) fn();
    }, ms);
  }

  private flash(text: string, error: boolean, sticky = false): void {
    this.dispatch({ type: 'flash', text, error }, true);
    if (sticky) return;
    this.later('flash', FLASH_MS, () => this.dispatch({ type: 'flash-clear' }, true));
  }

  /** Run one effect; failures become a red message in the footer, never an exit. */
  async run(effect: Effect): Promise<void> {
    const c = this.d.client;
    try {
      switch (effect.kind) {
        case 'quit':
          this.d.quit();
          return;
        case 'refresh':
          this.flash('reloading…', false);
          if (await this.reload()) this.flash('reloaded', false);
          return;
        case 'start':
          this.flash(`starting ${effect.name}…`, false);
          this.dispatch({ type: 'sandbox', view: await c.startSandbox(effect.id) }, true);
          this.flash(`started ${effect.name}`, false);
          return;
        case 'stop':
          this.flash(`stopping ${effect.name}…`, false);
          this.dispatch({ type: 'sandbox', view: await c.stopSandbox(effect.id) }, true);
          this.flash(`stopped ${effect.name} (its files are kept)`, false);
          return;
        case 'delete':
          this.flash(`deleting ${effect.name}…`, false);
          await c.removeSandbox(effect.id);
          this.flash(`deleted ${effect.name}`, false);
          return;
        case 'exec': {
          const r = await c.exec(effect.id, { cmd: ['/bin/sh', '-c', effect.command] });
          const output = `${r.stdout}${r.stderr}`.replace(/\n$/, '').split('\n').filter((l, i, all) => l !== '' || all.length > 1);
          this.dispatch({ type: 'exec-result', sandbox: effect.id, result: { exit: exitWords(r), duration_ms: r.duration_ms, output } }, true);
          return;
        }
        case 'shell': {
          const code = await this.d.shell(effect.name);
          this.flash(`the shell in ${effect.name} exited (${code})`, code !== 0);
          return;
        }
        case 'revoke':
          this.dispatch({ type: 'key', key: await c.revokeKey(effect.id) }, true);
          this.flash('key revoked', false);
          return;
        case 'approve': {
          const r = await c.llmApprove(effect.id, {});
          this.dispatch({ type: 'request', request: r.request }, true);
          this.flash(`approved; the model-access key (shown only now): ${r.token}`, false, true);
          return;
        }
        case 'deny':
          this.dispatch({ type: 'request', request: await c.llmDeny(effect.id) }, true);
          this.flash('request denied', false);
          return;
        case 'verify': {
          this.dispatch({ type: 'verifying' }, true);
          const result = await c.verifyAudit().catch((err: unknown) => ({ error: message(err) }));
          this.dispatch({ type: 'verified', result }, true);
          return;
        }
      }
    } catch (err) {
      if (effect.kind === 'exec') this.dispatch({ type: 'exec-result', sandbox: effect.id, result: { exit: message(err), duration_ms: 0, output: [] } }, true);
      this.flash(message(err), true);
    }
  }
}
