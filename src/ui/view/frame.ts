/**
 * The whole frame for a state at a terminal size: a header (views, connection), the current view,
 * a footer (keys, messages, questions). It fills the terminal but its last line, so that ink never
 * scrolls or clears it.
 */
import { bindingsFor } from '../state/keys.js';
import { canChange, canExec, selectedKey, selectedRequest, selectedSandbox, visibleKeys, visibleRequests, visibleSandboxes } from '../state/select.js';
import { VIEWS, type DashboardState, type View } from '../state/types.js';
import { columnWidths } from '../table.js';
import { auditView, keysView, modelsView } from './admin-views.js';
import { detailPane } from './detail-pane.js';
import { execPanel } from './exec-panel.js';
import { helpLines } from './help.js';
import { sandboxTable } from './sandbox-table.js';
import { plain, seg, styled, type StyledLine } from './styled.js';

const TITLES: Record<View, string> = { sandboxes: 'Sandboxes', keys: 'Keys', audit: 'Audit', models: 'Models' };

function header(s: DashboardState, width: number): StyledLine {
  const all = Object.values(s.sandboxes);
  const running = all.filter((r) => r.status === 'running').length;
  // the connection is named only while it is not live
  const conn = s.connection.status === 'live' ? '' : s.connection.status === 'connecting' ? ' · connecting…' : ` · reconnecting…${s.connection.error ? ` (${s.connection.error})` : ''}`;
  const role = s.role === 'admin' ? '' : ` · ${s.role === 'readonly' ? 'read-only' : s.role} key`;
  const tabs = VIEWS.map((v, i) => ({ v, text: v === s.ui.view ? `[${i + 1} ${TITLES[v]}]` : ` ${i + 1} ${TITLES[v]} ` }));
  const leftLen = 4 + tabs.reduce((n, t) => n + t.text.length, 0);
  const facts = ` ${running}/${all.length} running${conn}${role} · `;
  // the endpoint gives way first (its end is what tells one apart)
  const room = width - leftLen - facts.length;
  const where = s.connection.endpoint.length <= room ? s.connection.endpoint : room > 1 ? `…${s.connection.endpoint.slice(-(room - 1))}` : '';
  const right = `${facts}${where}`;
  return [
    seg('bkg ', { bold: true }),
    ...tabs.map((t) => (t.v === s.ui.view ? seg(t.text, { inverse: true, bold: true }) : seg(t.text))),
    seg(right.length + leftLen > width ? right.slice(0, Math.max(0, width - leftLen)) : right.padStart(width - leftLen), { color: s.connection.status === 'live' ? undefined : 'yellow' }),
  ];
}

function hints(s: DashboardState): string {
  const common = '? help  q quit';
  switch (s.ui.view) {
    case 'sandboxes': {
      const acts = [...(canChange(s) ? ['s start', 'x stop', 'd delete'] : []), ...(canExec(s) ? ['e exec', 't shell'] : [])];
      const filter = s.ui.filter ? `filter "${s.ui.filter}" (Esc clears)  ` : '/ filter  ';
      return `${acts.join('  ')}${acts.length ? '  ' : ''}${filter}o sort  ${common}`;
    }
    case 'keys': return `${s.keys.status === 'ok' ? 'r revoke  ' : ''}${common}`;
    case 'audit': return `${s.audit.status === 'ok' ? 'v verify  ' : ''}↑↓ scroll  End follow  ${common}`;
    case 'models': return `${s.requests.status === 'ok' ? 'a approve  n deny  ' : ''}${common}`;
  }
}

function footer(s: DashboardState): StyledLine {
  const o = s.ui.overlay;
  if (o?.kind === 'confirm') {
    const c = o.confirm;
    const q = c.kind === 'delete' ? `Delete sandbox ${c.label} and all its files?` : c.kind === 'revoke' ? `Revoke key ${c.label}?` : c.kind === 'approve' ? `Approve ${c.label}?` : `Deny ${c.label}?`;
    return styled(`${q} (y/n)`, { color: 'yellow', bold: true });
  }
  if (o?.kind === 'help') return plain('any key closes this list');
  if (s.ui.filtering) return [seg(`/${s.ui.filter}`), seg(' ', { inverse: true }), seg('  (Enter keeps the filter, Esc clears it)')];
  if (s.ui.flash) return styled(s.ui.flash.text, { color: s.ui.flash.error ? 'red' : 'green' });
  return plain(hints(s));
}

function sandboxesBody(s: DashboardState, width: number, height: number): StyledLine[] {
  const rows = visibleSandboxes(s);
  const sel = selectedSandbox(s, rows);
  const exec = s.ui.overlay?.kind === 'exec' ? s.ui.overlay.exec : null;
  // the pane takes 11 lines, more (up to 18) when the table needs fewer, and leaves the table at least 8
  const want = Math.min(18, Math.max(11, height - rows.length - 2));
  const paneH = exec || s.ui.detail ? Math.min(want, Math.max(0, height - Math.min(8, rows.length + 2))) : 0;
  const table = sandboxTable({ rows, selected: sel?.id ?? null, widths: columnWidths(width), height: height - paneH, now: s.now, sort: s.ui.sort, filter: s.ui.filter });
  if (paneH === 0) return table;
  const pane = exec
    ? execPanel({ exec, name: s.sandboxes[exec.sandbox]?.name ?? exec.sandbox, width, height: paneH })
    : detailPane({ row: sel, detail: s.detail, width, height: paneH, now: s.now });
  return [...table, ...pane];
}

function body(s: DashboardState, width: number, height: number): StyledLine[] {
  if (s.ui.overlay?.kind === 'help') return helpLines({ bindings: bindingsFor(s), width, height, readonly: !canChange(s) });
  switch (s.ui.view) {
    case 'sandboxes': return sandboxesBody(s, width, height);
    case 'keys': {
      const keys = visibleKeys(s);
      return keysView({ state: s, keys, selected: selectedKey(s, keys), width, height });
    }
    case 'audit': return auditView({ state: s, width, height });
    case 'models': {
      const reqs = visibleRequests(s);
      return modelsView({ state: s, requests: reqs, selected: selectedRequest(s, reqs), width, height });
    }
  }
}

/** The frame: `rows - 1` lines (at least 3), none wider than `columns`. */
export function frame(s: DashboardState, columns: number, rows: number): StyledLine[] {
  const height = Math.max(3, rows - 1);
  return [header(s, columns), ...body(s, columns, height - 2), footer(s)];
}
