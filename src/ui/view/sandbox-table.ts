/** The sandboxes table: a header and as many rows as fit, scrolled to keep the selection in sight. */
import type { SandboxRow, SortColumn } from '../state/types.js';
import { cellText, cells, COLUMNS, headerText, memoryFraction, type Column, type Widths } from '../table.js';
import { fill, levelColor, seg, STATE_COLOR, styled, plain, type StyledLine } from './styled.js';

const SORTED_BY: Partial<Record<Column, SortColumn>> = { name: 'name', namespace: 'namespace', state: 'state', cpu: 'cpu', memory: 'memory', pids: 'pids', uptime: 'uptime' };

/** The first row shown so that row `sel` of `count` is in a window of `visible` rows. */
export function windowStart(sel: number, count: number, visible: number): number {
  if (visible <= 0) return 0;
  return Math.max(0, Math.min(sel - Math.floor(visible / 2), count - visible));
}

export interface SandboxTableProps {
  rows: SandboxRow[];
  selected: string | null;
  widths: Widths;
  /** Lines to fill, the header included. */
  height: number;
  now: number;
  sort: { column: SortColumn; desc: boolean };
  filter: string;
}

export function sandboxTable({ rows, selected, widths, height, now, sort, filter }: SandboxTableProps): StyledLine[] {
  const header = COLUMNS.map((c) => headerText(c, widths, SORTED_BY[c] === sort.column ? (sort.desc ? '↓' : '↑') : ''));
  const lines: StyledLine[] = [styled(`  ${header.join(' ')}`, { bold: true })];
  const visible = Math.max(0, height - 1);
  if (rows.length === 0) lines.push(plain(filter ? `  no sandbox matches "${filter}" (Esc clears the filter)` : '  no sandboxes yet (`bkg run NAME` makes one)'));
  const sel = Math.max(0, rows.findIndex((r) => r.id === selected));
  const start = windowStart(sel, rows.length, visible);
  for (const r of rows.slice(start, start + visible)) {
    const isSel = r.id === (rows[sel]?.id ?? null);
    const text = cells(r, now);
    const fraction = memoryFraction(r);
    const parts = COLUMNS.map((c, i) => `${i === 0 ? '' : ' '}${cellText(c, text[c], widths, c === 'memory' ? fraction : null)}`);
    if (isSel) {
      lines.push(styled(`> ${parts.join('')}`, { inverse: true }));
      continue;
    }
    lines.push([seg('  '), ...COLUMNS.map((c, i) => seg(parts[i] as string, { color: c === 'state' ? STATE_COLOR[r.status] : c === 'memory' ? levelColor(fraction) : undefined }))]);
  }
  return fill(lines, height);
}
