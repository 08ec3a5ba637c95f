/** Views 2–4: the API keys, the audit log's live tail, the models with their downloads and access requests. */
import { bar, bytes, fit, since } from '../format.js';
import type { AccessRequest, ApiKeyView, DashboardState } from '../state/types.js';
import { sectionNotice } from './notice.js';
import { windowStart } from './sandbox-table.js';
import { fill, plain, seg, styled, type StyledLine } from './styled.js';

export function keysView({ state, keys, selected, width, height }: { state: DashboardState; keys: ApiKeyView[]; selected: ApiKeyView | null; width: number; height: number }): StyledLine[] {
  const notice = sectionNotice(state.keys, 'API keys');
  if (notice) return fill(notice, height);
  const nameW = Math.max(8, Math.min(24, width - 66));
  const row = (k: { name: string; role: string; ns: string; masked: string; created: string; used: string; state: string }): string =>
    `${fit(k.name, nameW)} ${fit(k.role, 9)} ${fit(k.ns, 12)} ${fit(k.masked, 16)} ${fit(k.created, 7, 'right')} ${fit(k.used, 7, 'right')}  ${k.state}`;
  const lines: StyledLine[] = [styled(`  ${row({ name: 'NAME', role: 'ROLE', ns: 'NAMESPACE', masked: 'KEY', created: 'MADE', used: 'USED', state: 'STATE' })}`, { bold: true })];
  if (keys.length === 0) lines.push(plain('  no keys'));
  const visible = height - 1;
  const sel = Math.max(0, keys.findIndex((k) => k.id === selected?.id));
  const start = windowStart(sel, keys.length, visible);
  for (const k of keys.slice(start, start + visible)) {
    const isSel = k.id === selected?.id;
    const text = row({
      name: k.name, role: k.sandbox_id ? 'sandbox' : k.role, ns: k.namespace ?? '*', masked: k.masked,
      created: since(k.created_at, state.now), used: k.last_used_at ? since(k.last_used_at, state.now) : '-', state: k.revoked_at ? `revoked ${since(k.revoked_at, state.now)} ago` : 'live',
    });
    lines.push(styled(`${isSel ? '> ' : '  '}${text}`, isSel ? { inverse: true } : { dim: k.revoked_at !== null }));
  }
  return fill(lines, height);
}

function verifyLine(s: DashboardState): StyledLine {
  const v = s.verify;
  if (!v) return plain('  chain: not verified this session (v verifies it)');
  if (v.status === 'running') return plain('  chain: verifying…');
  if (v.status === 'error') return styled(`  chain: could not verify: ${v.message}`, { color: 'red' });
  const r = v.result;
  if ('fleet' in r) return styled(`  chain: ${r.ok ? 'intact' : 'BROKEN'} on ${r.hosts.length} hosts`, { color: r.ok ? 'green' : 'red' });
  if (r.ok) return styled(`  chain: intact, ${r.count} events verified`, { color: 'green' });
  return styled(`  chain: TAMPERED at event ${r.seq}: ${r.reason}`, { color: 'red' });
}

export function auditView({ state, width, height }: { state: DashboardState; width: number; height: number }): StyledLine[] {
  const notice = sectionNotice(state.audit, 'audit log');
  if (notice) return fill(notice, height);
  const head = (seq: string, at: string, actor: string, action: string, outcome: string, target: string): string =>
    `${fit(seq, 6, 'right')} ${fit(at, 8)} ${fit(actor, 14)} ${fit(action, 18)} ${fit(outcome, 7)} ${fit(target, Math.max(0, width - 60))}`;
  const lines: StyledLine[] = [verifyLine(state), styled(`  ${head('SEQ', 'TIME', 'ACTOR', 'ACTION', 'OUTCOME', 'TARGET')}`, { bold: true })];
  const items = state.audit.items;
  const room = height - lines.length;
  const end = items.length - state.ui.auditScroll;
  const shown = items.slice(Math.max(0, end - room), end);
  if (shown.length === 0) lines.push(plain('  no audit events yet'));
  for (const e of shown) {
    const text = head(String(e.seq), e.at.slice(11, 19), e.actor, e.action, e.outcome, e.target ?? (e.namespace ? `ns ${e.namespace}` : ''));
    lines.push(styled(`  ${text}`, { color: e.outcome === 'ok' ? undefined : e.outcome === 'denied' ? 'yellow' : 'red' }));
  }
  return fill(lines, height);
}

export function modelsView({ state, requests, selected, width, height }: { state: DashboardState; requests: AccessRequest[]; selected: AccessRequest | null; width: number; height: number }): StyledLine[] {
  const notice = sectionNotice(state.models, 'models');
  if (notice) return fill(notice, height);
  const lines: StyledLine[] = [];
  const nameW = Math.max(10, Math.min(30, width - 50));
  lines.push(styled(`  ${fit('MODEL', nameW)} ${fit('SIZE', 6, 'right')}  ${fit('SIGNED BY', 14)} ${fit('USED', 6, 'right')}  SHA256`, { bold: true }));
  const models = state.models.items;
  if (models.length === 0) lines.push(plain('  no models (`bkg llm pull SOURCE` adds one)'));
  const reqRoom = Math.max(4, Math.floor(height / 2));
  const pulls = Object.values(state.pulls).filter((j) => j.status !== 'done' || Date.parse(j.updated_at) > state.now - 60_000);
  const modelRoom = Math.max(1, height - reqRoom - pulls.length - 2);
  for (const m of models.slice(0, modelRoom)) {
    lines.push(plain(`  ${fit(m.name, nameW)} ${fit(bytes(m.size_bytes), 6, 'right')}  ${fit(m.signed_by ?? '-', 14)} ${fit(m.last_used_at ? since(m.last_used_at, state.now) : '-', 6, 'right')}  ${m.sha256.slice(0, 12)}`));
  }
  for (const j of pulls) {
    const fraction = j.status === 'done' ? 1 : j.bytes_total ? j.bytes_done / j.bytes_total : null;
    const barW = Math.max(10, width - 60);
    const tail = j.status === 'failed' ? `failed: ${j.error ?? ''}` : `${bytes(j.bytes_done)}/${bytes(j.bytes_total)} ${j.status}`;
    lines.push([
      seg(`  pull ${fit(j.source, 24)} [`),
      seg(bar(fraction, barW), { color: j.status === 'failed' ? 'red' : 'cyan' }),
      seg(`] ${fraction === null ? '   ?' : fit(`${Math.floor(fraction * 100)}%`, 4, 'right')} ${tail}`),
    ]);
  }
  lines.push([]);
  const reqNotice = sectionNotice(state.requests, 'access requests');
  if (reqNotice) return fill([...lines, ...reqNotice], height);
  lines.push(styled(`  ${fit('ACCESS REQUEST', nameW)} ${fit('NAMESPACE', 14)} ${fit('BY', 14)} ${fit('STATUS', 9)} ${fit('AGE', 5, 'right')}`, { bold: true }));
  if (requests.length === 0) lines.push(plain('  no access requests'));
  const visible = Math.max(1, height - lines.length);
  const sel = Math.max(0, requests.findIndex((r) => r.id === selected?.id));
  const start = windowStart(sel, requests.length, visible);
  for (const r of requests.slice(start, start + visible)) {
    const isSel = r.id === selected?.id;
    const text = `${fit(r.model_id, nameW)} ${fit(r.cave_namespace, 14)} ${fit(r.requested_by, 14)} ${fit(r.status, 9)} ${fit(since(r.created_at, state.now), 5, 'right')}`;
    lines.push(styled(`${isSel ? '> ' : '  '}${text}`, isSel ? { inverse: true } : { color: r.status === 'pending' ? 'yellow' : undefined }));
  }
  return fill(lines, height);
}
