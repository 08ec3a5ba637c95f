/** The selected sandbox in detail: limits, CPU and memory sparklines, recent commands, workspace changes. */
import { bytes, commandLine, duration, fit, left, percent, since, sparkline, span } from '../format.js';
import type { Detail, ExecLine, SandboxRow } from '../state/types.js';
import { fill, levelColor, plain, rule, seg, STATE_COLOR, styled, type StyledLine } from './styled.js';

/** How a command ended, in at most 5 characters: its exit code, sig9, T/O, OOM, or … while running. */
export function exitText(e: ExecLine): string {
  if (e.running) return '…';
  if (e.oom_killed) return 'OOM';
  if (e.timed_out) return 'T/O';
  if (e.exit_code !== null) return String(e.exit_code);
  return e.signal === null ? '?' : `sig${e.signal}`;
}

function limitsLine(r: SandboxRow): string {
  const l = r.view?.limits;
  if (!l) return 'limits  (loading)';
  const parts = [
    `memory ${l.memory_mb ? bytes(l.memory_mb * 1024 * 1024) : '-'}`,
    `cpus ${l.cpus ?? '-'}`,
    `pids ${l.pids ?? '-'}`,
    `disk ${l.disk_mb ? bytes(l.disk_mb * 1024 * 1024) : '-'}`,
    `timeout ${l.timeout_s ? span(l.timeout_s * 1000) : '-'}`,
    `idle ${l.idle_timeout_s ? span(l.idle_timeout_s * 1000) : '-'}`,
    `network ${r.view?.network ?? '-'}`,
  ];
  return `limits  ${parts.join('  ')}`;
}

export interface DetailPaneProps {
  row: SandboxRow | null;
  detail: Detail | null;
  width: number;
  height: number;
  now: number;
}

export function detailPane({ row, detail, width, height, now }: DetailPaneProps): StyledLine[] {
  if (!row) return fill([plain(rule('no sandbox selected', width))], height);
  const running = row.status === 'running';
  const facts = [row.name, row.namespace, row.status, ...(row.view ? [row.view.runtime] : []),
    ...(running ? [`up ${since(row.started_at, now)}`] : []),
    ...(running && row.idle_expires_at ? [`idle stop in ${left(row.idle_expires_at, now)}`] : []),
    ...(running && row.expires_at ? [`expires in ${left(row.expires_at, now)}`] : []),
    ...(row.note ? [row.note] : [])];
  const lines: StyledLine[] = [styled(rule(facts.join(' · '), width), { color: STATE_COLOR[row.status], bold: true }), plain(limitsLine(row))];
  const u = row.usage;
  // the fixed parts of the line take 57 columns; the two sparklines share the rest. CPU is drawn
  // against one core at least (so that an idle sandbox's noise stays flat), memory against its limit
  const sparkW = Math.max(4, Math.floor((width - 57) / 2));
  const memLimit = u?.memory_limit_bytes ?? (row.view?.limits.memory_mb ? row.view.limits.memory_mb * 1024 * 1024 : undefined);
  const memFraction = u && u.memory_bytes !== null && u.memory_limit_bytes ? u.memory_bytes / u.memory_limit_bytes : null;
  lines.push([
    seg('cpu '), seg(sparkline(row.cpu, sparkW, Math.max(100, ...row.cpu.slice(-sparkW))), { color: 'cyan' }), seg(` ${fit(running ? `${percent(u?.cpu_percent)}%` : '-', 6)}  mem `),
    seg(sparkline(row.memory, sparkW, memLimit), { color: levelColor(memFraction) }),
    seg(` ${running && u ? `${bytes(u.memory_bytes)}/${bytes(u.memory_limit_bytes)}` : '-'}  pids ${running && u ? `${u.pids ?? '-'}/${u.pids_limit ?? '-'}` : '-'}  disk ${running && u ? `${bytes(u.disk_bytes)}/${bytes(u.disk_limit_bytes)}` : '-'}`),
  ]);
  const leftW = Math.max(20, Math.floor(width * 0.6));
  const rightW = Math.max(0, width - leftW - 1);
  const rest = Math.max(0, height - lines.length - 1);
  const execs = row.execs.slice(0, rest);
  const mine = detail?.id === row.id ? detail : null;
  const logsNote = mine?.logs.status === 'error' ? `history: ${mine.logs.message ?? 'unavailable'}` : mine?.logs.status === 'loading' ? 'loading…' : 'no commands yet';
  const changes = mine?.changes ?? null;
  const changeLines = !changes ? [] : changes.status === 'loading' ? ['loading…'] : changes.status === 'error' ? [changes.message ?? 'unavailable'] : changes.items.length === 0 ? ['none'] : changes.items.map((c) => `${c.kind === 'added' ? 'A' : c.kind === 'modified' ? 'M' : 'D'}  ${c.path}${c.type === 'dir' ? '/' : ''}`);
  const more = changes?.status === 'ok' && changes.items.length > rest ? ` (${changes.items.length})` : '';
  lines.push(styled(`${fit(`${fit('EXIT', 4, 'right')}  ${fit('TIME', 6, 'right')} ${fit('AGO', 4, 'right')}  RECENT COMMANDS`, leftW)} ${fit(`WORKSPACE CHANGES${more}`, rightW)}`, { bold: true }));
  for (let i = 0; i < rest; i++) {
    const e = execs[i];
    const right = seg(` ${fit(changeLines[i] ?? '', rightW)}`);
    if (!e) {
      lines.push([seg(fit(i === 0 && execs.length === 0 ? logsNote : '', leftW)), right]);
      continue;
    }
    const code = exitText(e);
    lines.push([
      seg(fit(code, 4, 'right'), { color: e.running ? 'yellow' : code === '0' ? 'green' : 'red' }),
      seg(`  ${fit(duration(e.running ? Math.max(0, now - Date.parse(e.at)) : e.duration_ms), 6, 'right')} ${fit(since(e.at, now), 4, 'right')}  ${fit(commandLine(e.cmd), leftW - 19)}`),
      right,
    ]);
  }
  return fill(lines, height);
}
