/**
 * Every key binding, once: the table the help overlay (and README) lists, and the pure function
 * that turns a key press into state changes and, for what reaches the daemon or the terminal, an
 * effect for the controller to run.
 */
import type { Action } from './reducer.js';
import { canChange, canExec, selectedKey, selectedRequest, selectedSandbox } from './select.js';
import { VIEWS, type DashboardState, type View } from './types.js';

/** The key as ink reports it (the subset used here). */
export interface KeyPress {
  upArrow?: boolean;
  downArrow?: boolean;
  pageUp?: boolean;
  pageDown?: boolean;
  home?: boolean;
  end?: boolean;
  return?: boolean;
  escape?: boolean;
  tab?: boolean;
  shift?: boolean;
  ctrl?: boolean;
  meta?: boolean;
  backspace?: boolean;
  delete?: boolean;
}

/** What a key asks of the world outside the state. */
export type Effect =
  | { kind: 'quit' }
  | { kind: 'refresh' }
  | { kind: 'start' | 'stop' | 'delete'; id: string; name: string }
  | { kind: 'exec'; id: string; name: string; command: string }
  | { kind: 'shell'; id: string; name: string }
  | { kind: 'revoke'; id: string }
  | { kind: 'approve' | 'deny'; id: string }
  | { kind: 'verify' };

export interface Binding {
  keys: string;
  what: string;
  /** Where it works. */
  view: View | 'all';
  /** Shown (and working) only for keys that may change sandboxes, or run commands in them. */
  needs?: 'change' | 'exec';
}

export const BINDINGS: readonly Binding[] = [
  { keys: '1-4, Tab, Shift-Tab', what: 'switch view: Sandboxes, Keys, Audit, Models', view: 'all' },
  { keys: '↑ ↓ j k, PgUp PgDn', what: 'move the selection (Audit: scroll the tail)', view: 'all' },
  { keys: 'Home End, g G', what: 'first or last row (Audit: End follows the newest)', view: 'all' },
  { keys: '?', what: 'this list (any key closes it)', view: 'all' },
  { keys: 'R', what: 'reload everything from the daemon', view: 'all' },
  { keys: 'q, Ctrl-C', what: 'quit (the terminal is left as it was)', view: 'all' },
  { keys: '/', what: 'filter: type words; Enter keeps it, Esc clears it', view: 'sandboxes' },
  { keys: 'o, O', what: 'sort by the next column; reverse the order', view: 'sandboxes' },
  { keys: 'Enter', what: 'show or hide the detail pane', view: 'sandboxes' },
  { keys: 's, x', what: 'start or stop the selected sandbox (files are kept)', view: 'sandboxes', needs: 'change' },
  { keys: 'd', what: 'delete it and its files (asks y/n)', view: 'sandboxes', needs: 'change' },
  { keys: 'e', what: 'run a command in it (Enter runs it, Esc closes)', view: 'sandboxes', needs: 'exec' },
  { keys: 't', what: 'open a shell in it; the dashboard returns when it exits', view: 'sandboxes', needs: 'exec' },
  { keys: 'r', what: 'revoke the selected key (asks y/n)', view: 'keys' },
  { keys: 'v', what: 'verify the audit chain', view: 'audit' },
  { keys: 'a, n', what: 'approve or deny the selected access request (y/n)', view: 'models' },
];

/** The bindings this key may use. */
export function bindingsFor(s: DashboardState): Binding[] {
  return BINDINGS.filter((b) => b.needs === undefined || (b.needs === 'change' ? canChange(s) : canExec(s)));
}

export interface KeyResult {
  actions: Action[];
  effect: Effect | null;
}

const none: KeyResult = { actions: [], effect: null };
const act = (...actions: Action[]): KeyResult => ({ actions, effect: null });
const run = (effect: Effect, ...actions: Action[]): KeyResult => ({ actions, effect });

/** Text typed into a field: printable input appended, Backspace removes the last character. */
function edit(text: string, input: string, key: KeyPress): string | null {
  if (key.backspace || key.delete) return text.slice(0, -1);
  if (key.ctrl || key.meta || key.return || key.escape || key.tab || key.upArrow || key.downArrow) return null;
  // eslint-disable-next-line no-control-regex
  const printable = input.replace(/[\u0000-\u001f\u007f]/g, '');
  return printable ? text + printable : null;
}

export function onKey(s: DashboardState, input: string, key: KeyPress): KeyResult {
  if (key.ctrl && input === 'c') return run({ kind: 'quit' });
  const overlay = s.ui.overlay;

  if (overlay?.kind === 'help') return act({ type: 'overlay', overlay: null });
  if (overlay?.kind === 'confirm') {
    const close = { type: 'overlay' as const, overlay: null };
    if (input === 'y' || input === 'Y') {
      const c = overlay.confirm;
      const effect: Effect = c.kind === 'delete' ? { kind: 'delete', id: c.id, name: c.label } : c.kind === 'revoke' ? { kind: 'revoke', id: c.id } : { kind: c.kind, id: c.id };
      return run(effect, close);
    }
    return input === 'n' || input === 'N' || key.escape || input === 'q' ? act(close) : none;
  }
  if (overlay?.kind === 'exec') {
    const e = overlay.exec;
    if (key.escape) return act({ type: 'overlay', overlay: null });
    if (key.return) {
      const row = s.sandboxes[e.sandbox];
      if (e.running || !e.input.trim() || !row) return none;
      return run({ kind: 'exec', id: row.id, name: row.name, command: e.input }, { type: 'exec-running' });
    }
    const text = edit(e.input, input, key);
    return text === null ? none : act({ type: 'exec-input', input: text });
  }
  if (s.ui.filtering) {
    if (key.escape) return act({ type: 'filter-clear' });
    if (key.return || key.downArrow || key.upArrow) return act({ type: 'filter-done' });
    const text = edit(s.ui.filter, input, key);
    return text === null ? none : act({ type: 'filter-text', text });
  }

  // everywhere
  if (input === 'q') return run({ kind: 'quit' });
  if (input === '?') return act({ type: 'overlay', overlay: { kind: 'help' } });
  if (input === 'R') return run({ kind: 'refresh' });
  const n = Number(input);
  if (input.length === 1 && n >= 1 && n <= VIEWS.length) return act({ type: 'view', view: VIEWS[n - 1] as View });
  if (key.tab) return act({ type: 'cycle-view', dir: key.shift ? -1 : 1 });
  if (key.upArrow || input === 'k') return act({ type: 'move', delta: -1 });
  if (key.downArrow || input === 'j') return act({ type: 'move', delta: 1 });
  if (key.pageUp) return act({ type: 'move', delta: -10 });
  if (key.pageDown) return act({ type: 'move', delta: 10 });
  if (key.home || input === 'g') return act({ type: 'edge', to: 'first' });
  if (key.end || input === 'G') return act({ type: 'edge', to: 'last' });

  switch (s.ui.view) {
    case 'sandboxes': {
      if (input === '/') return act({ type: 'filter-start' });
      if (key.escape) return s.ui.filter ? act({ type: 'filter-clear' }) : none;
      if (input === 'o') return act({ type: 'sort-next' });
      if (input === 'O') return act({ type: 'sort-reverse' });
      if (key.return) return act({ type: 'toggle-detail' });
      const row = selectedSandbox(s);
      if (!row) return none;
      if (canChange(s)) {
        if (input === 's') return run({ kind: 'start', id: row.id, name: row.name });
        if (input === 'x') return run({ kind: 'stop', id: row.id, name: row.name });
        if (input === 'd') return act({ type: 'overlay', overlay: { kind: 'confirm', confirm: { kind: 'delete', id: row.id, label: row.name } } });
      }
      if (canExec(s) && (input === 'e' || input === 't') && row.status !== 'running') {
        return act({ type: 'flash', text: `${row.name} is not running${canChange(s) ? ' (s starts it)' : ''}`, error: true });
      }
      if (canExec(s)) {
        if (input === 'e') return act({ type: 'overlay', overlay: { kind: 'exec', exec: { sandbox: row.id, input: '', running: false, result: null } } });
        if (input === 't') return run({ kind: 'shell', id: row.id, name: row.name });
      }
      return none;
    }
    case 'keys': {
      const k = selectedKey(s);
      if (input === 'r' && k && s.keys.status === 'ok' && k.revoked_at === null) {
        return act({ type: 'overlay', overlay: { kind: 'confirm', confirm: { kind: 'revoke', id: k.id, label: `${k.name} (${k.masked})` } } });
      }
      return none;
    }
    case 'audit':
      return input === 'v' && s.audit.status === 'ok' && s.verify?.status !== 'running' ? run({ kind: 'verify' }) : none;
    case 'models': {
      const r = selectedRequest(s);
      if (!r || r.status !== 'pending' || s.requests.status !== 'ok') return none;
      const label = `${r.model_id} for ${r.cave_namespace}`;
      if (input === 'a') return act({ type: 'overlay', overlay: { kind: 'confirm', confirm: { kind: 'approve', id: r.id, label } } });
      if (input === 'n') return act({ type: 'overlay', overlay: { kind: 'confirm', confirm: { kind: 'deny', id: r.id, label } } });
      return none;
    }
  }
}
