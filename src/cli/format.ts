/** Human renderings shared by the daemon commands: tables, times, sizes, changes. */
import type { Change, DaemonInfo } from '../client/types.js';

/** Columns padded to their widest cell, two spaces apart, no trailing blanks. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`;
}

function span(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** "5m ago", or "-" when unset. */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : `${span(now - t)} ago`;
}

/** "in 5m", "expired", or "-" when unset. */
export function until(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  return t <= now ? 'expired' : `in ${span(t - now)}`;
}

/** The earlier of two optional times. */
export function earliest(...isos: (string | null | undefined)[]): string | null {
  const times = isos.filter((x): x is string => !!x && !Number.isNaN(Date.parse(x)));
  return times.length ? times.reduce((a, b) => (Date.parse(a) <= Date.parse(b) ? a : b)) : null;
}

export function mib(n: number | null | undefined): string {
  if (n === null || n === undefined) return '-';
  return n >= 1024 && n % 1024 === 0 ? `${n / 1024}GiB` : `${n}MiB`;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

const MARK: Record<Change['kind'], string> = { added: 'A', modified: 'M', deleted: 'D' };

/** One line per workspace change, git-style: `A  src/new.py`, directories with a trailing /. */
export function renderChanges(changes: readonly Change[]): string {
  return changes.map((c) => `${MARK[c.kind]}  ${c.path}${c.type === 'dir' ? '/' : ''}\n`).join('');
}

/** One line about a daemon: pid, version, where it listens, since when. */
export function renderDaemonInfo(i: { pid: number; version: string; socket: string; port: number | null; started_at: string }, now = Date.now()): string {
  return `pid ${i.pid}, version ${i.version}, unix://${i.socket}${i.port ? `, http://127.0.0.1:${i.port}` : ''}, up since ${i.started_at} (${ago(i.started_at, now)})`;
}

/** The fleet lines of `bkg daemon status`: the host, and the sync with the fleet database. */
export function renderFleet(i: DaemonInfo, now = Date.now()): string[] {
  const lines = [`Host: ${i.host.name} (${i.host.id})${i.host.peer_url ? `, peers forward to ${i.host.peer_url}` : ''}`];
  const s = i.sync;
  if (!s.enabled) return [...lines, 'Sync: off (this host is on its own; `bkg daemon start --sync postgres://...` joins a fleet)'];
  const last = s.last_sync_at ? `last synced ${s.last_sync_at} (${ago(s.last_sync_at, now)})` : 'never synced';
  lines.push(`Sync: ${s.url}, ${s.connected ? 'connected' : 'NOT connected'}, ${last}, ${s.outbox} change(s) waiting, ${s.conflicts} conflict(s)`);
  if (s.stale) lines.push(`  STALE: past the ${s.max_staleness_s}s bound; keys made on other hosts are refused until it syncs again`);
  if (s.last_error) lines.push(`  last error: ${s.last_error}`);
  return lines;
}
