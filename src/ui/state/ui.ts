/** The user's side of the state: view, selection, sort, filter, overlays. Pure, like reducer.ts. */
import { DEFAULT_DESC, selectedKey, selectedRequest, selectedSandbox, visibleKeys, visibleRequests, visibleSandboxes } from './select.js';
import { SORT_COLUMNS, VIEWS, type DashboardState, type ExecPrompt, type Overlay, type View } from './types.js';

export type UiAction =
  | { type: 'view'; view: View }
  | { type: 'cycle-view'; dir: 1 | -1 }
  | { type: 'move'; delta: number }
  | { type: 'edge'; to: 'first' | 'last' }
  | { type: 'sort-next' }
  | { type: 'sort-reverse' }
  | { type: 'filter-start' }
  | { type: 'filter-text'; text: string }
  | { type: 'filter-done' }
  | { type: 'filter-clear' }
  | { type: 'toggle-detail' }
  | { type: 'overlay'; overlay: Overlay }
  | { type: 'exec-input'; input: string }
  | { type: 'exec-running' }
  | { type: 'exec-result'; sandbox: string; result: NonNullable<ExecPrompt['result']> }
  | { type: 'flash'; text: string; error: boolean }
  | { type: 'flash-clear' };

function ui(s: DashboardState, patch: Partial<DashboardState['ui']>): DashboardState {
  return { ...s, ui: { ...s.ui, ...patch } };
}

/** Move the selection of the current view by `delta` rows (clamped), or to its first or last row. */
function moveSelection(s: DashboardState, delta: number | 'first' | 'last'): DashboardState {
  const pick = <T>(items: T[], current: T | null): T | undefined => {
    if (items.length === 0) return undefined;
    const i = current === null ? 0 : items.indexOf(current);
    const j = delta === 'first' ? 0 : delta === 'last' ? items.length - 1 : Math.min(items.length - 1, Math.max(0, i + delta));
    return items[j];
  };
  switch (s.ui.view) {
    case 'sandboxes': {
      const rows = visibleSandboxes(s);
      const next = pick(rows, selectedSandbox(s, rows));
      return next ? ui(s, { selected: { ...s.ui.selected, sandboxes: next.id } }) : s;
    }
    case 'keys': {
      const keys = visibleKeys(s);
      const next = pick(keys, selectedKey(s, keys));
      return next ? ui(s, { selected: { ...s.ui.selected, keys: next.id } }) : s;
    }
    case 'models': {
      const reqs = visibleRequests(s);
      const next = pick(reqs, selectedRequest(s, reqs));
      return next ? ui(s, { selected: { ...s.ui.selected, requests: next.id } }) : s;
    }
    case 'audit': {
      // the tail scrolls back from the newest event: up is older
      const max = Math.max(0, s.audit.items.length - 1);
      const scroll = delta === 'first' ? max : delta === 'last' ? 0 : Math.min(max, Math.max(0, s.ui.auditScroll - delta));
      return ui(s, { auditScroll: scroll });
    }
  }
}

export function uiReducer(s: DashboardState, a: UiAction): DashboardState {
  switch (a.type) {
    case 'view':
      return s.ui.view === a.view && s.ui.overlay === null ? s : ui(s, { view: a.view, overlay: null });
    case 'cycle-view': {
      const i = VIEWS.indexOf(s.ui.view);
      return ui(s, { view: VIEWS[(i + a.dir + VIEWS.length) % VIEWS.length] as View, overlay: null });
    }
    case 'move':
      return moveSelection(s, a.delta);
    case 'edge':
      return moveSelection(s, a.to);
    case 'sort-next': {
      const column = SORT_COLUMNS[(SORT_COLUMNS.indexOf(s.ui.sort.column) + 1) % SORT_COLUMNS.length] as (typeof SORT_COLUMNS)[number];
      return ui(s, { sort: { column, desc: DEFAULT_DESC[column] } });
    }
    case 'sort-reverse':
      return ui(s, { sort: { ...s.ui.sort, desc: !s.ui.sort.desc } });
    case 'filter-start':
      return ui(s, { filtering: true });
    case 'filter-text':
      return ui(s, { filter: a.text });
    case 'filter-done':
      return ui(s, { filtering: false });
    case 'filter-clear':
      return ui(s, { filter: '', filtering: false });
    case 'toggle-detail':
      return ui(s, { detail: !s.ui.detail });
    case 'overlay':
      return ui(s, { overlay: a.overlay });
    case 'exec-input':
      return s.ui.overlay?.kind === 'exec' && !s.ui.overlay.exec.running ? ui(s, { overlay: { kind: 'exec', exec: { ...s.ui.overlay.exec, input: a.input } } }) : s;
    case 'exec-running':
      return s.ui.overlay?.kind === 'exec' ? ui(s, { overlay: { kind: 'exec', exec: { ...s.ui.overlay.exec, running: true, result: null } } }) : s;
    case 'exec-result':
      // the prompt may have been closed meanwhile (the command still ran): then the result only shows in the detail pane
      return s.ui.overlay?.kind === 'exec' && s.ui.overlay.exec.sandbox === a.sandbox ? ui(s, { overlay: { kind: 'exec', exec: { ...s.ui.overlay.exec, running: false, input: '', result: a.result } } }) : s;
    case 'flash':
      return ui(s, { flash: { text: a.text, error: a.error } });
    case 'flash-clear':
      return ui(s, { flash: null });
  }
}
