/**
 * The state's holder: dispatch runs the reducer; subscribers (the React tree, through
 * useSyncExternalStore) hear of changes at most once per `frameMs`, so a burst of events (a replay
 * after reconnecting, many sandboxes starting) costs one render, and an idle dashboard none.
 */
import { reduce, type Action } from './reducer.js';
import type { DashboardState } from './types.js';

export class Store {
  private state: DashboardState;
  private readonly listeners = new Set<() => void>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastNotify = 0;
  private dirty = false;

  constructor(initial: DashboardState, private readonly frameMs = 100) {
    this.state = initial;
  }

  readonly get = (): DashboardState => this.state;

  readonly subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  /** Apply actions; `urgent` (a key press) notifies now rather than at the next frame. */
  dispatch(actions: Action | readonly Action[], urgent = false): void {
    const list = Array.isArray(actions) ? actions : [actions as Action];
    if (list.length === 0) return;
    const before = this.state;
    for (const a of list) this.state = reduce(this.state, a);
    if (this.state === before) return;
    this.dirty = true;
    const wait = this.frameMs - (Date.now() - this.lastNotify);
    if (urgent || wait <= 0) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), wait);
  }

  /** Tell the subscribers now, if anything changed since they last heard. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.dirty) return;
    this.dirty = false;
    this.lastNotify = Date.now();
    for (const fn of this.listeners) fn();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.listeners.clear();
  }
}
