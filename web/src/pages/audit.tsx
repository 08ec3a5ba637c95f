/**
 * The audit log (admin): the rows of a time window (the API lists oldest first from `since`; the
 * page shows the newest first, at most SHOWN of them), new rows live from the event stream, filtered
 * in the browser; verify the hash chain.
 */
import { useCallback, useEffect, useState } from 'react';
import { api, errorText } from '../api';
import { useSession } from '../session';
import { when } from '../ui';

interface Row {
  seq: number;
  at: string;
  actor: string;
  namespace: string | null;
  action: string;
  target: string | null;
  outcome: 'ok' | 'denied' | 'error';
  details: Record<string, unknown> | null;
}

const SHOWN = 2000;
const WINDOWS: [string, string][] = [['1h', 'last hour'], ['24h', 'last 24 hours'], ['168h', 'last 7 days'], ['', 'everything']];

export function AuditPage() {
  const { key, feed } = useSession();
  const [rows, setRows] = useState<Row[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [filter, setFilter] = useState('');
  const [outcome, setOutcome] = useState('');
  const [verify, setVerify] = useState<string | null>(null);
  const [since, setSince] = useState('24h');

  const load = useCallback(async () => {
    try {
      const r = await api<{ events: Row[] }>(key, 'GET', `/api/v1/audit${since ? `?since=${since}` : ''}`);
      setRows([...r.events].sort((a, b) => b.seq - a.seq).slice(0, SHOWN));
    } catch (err) {
      setError(errorText(err));
    }
  }, [key, since]);
  useEffect(() => {
    void load();
    return feed.on((e) => {
      if (e.type === 'resync') void load();
      if (e.type !== 'audit') return;
      const row = e.event as Row;
      setRows((rs) => (rs && !rs.some((r) => r.seq === row.seq) ? [row, ...rs].slice(0, SHOWN) : rs));
    });
  }, [feed, load]);

  const check = async (): Promise<void> => {
    setVerify('checking…');
    try {
      const r = await api<{ ok: boolean; count?: number; seq?: number; reason?: string }>(key, 'GET', '/api/v1/audit/verify');
      setVerify(r.ok ? `chain intact: ${r.count ?? 0} rows verified` : `chain broken at row ${r.seq ?? '?'}: ${r.reason ?? ''}`);
    } catch (err) {
      setVerify(errorText(err));
    }
  };

  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  const shown = (rows ?? []).filter((r) => {
    if (outcome && r.outcome !== outcome) return false;
    const text = `${r.actor} ${r.namespace ?? ''} ${r.action} ${r.target ?? ''} ${r.details ? JSON.stringify(r.details) : ''}`.toLowerCase();
    return words.every((w) => text.includes(w));
  });

  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit log</h1>
      <div className="inline">
        <label>Filter <input type="search" name="audit-filter" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="action, actor, target…" /></label>
        <label>
          Outcome{' '}
          <select name="audit-outcome" value={outcome} onChange={(e) => setOutcome(e.target.value)}>
            <option value="">any</option>
            <option>ok</option>
            <option>denied</option>
            <option>error</option>
          </select>
        </label>
        <label>
          Window{' '}
          <select name="audit-window" value={since} onChange={(e) => setSince(e.target.value)}>
            {WINDOWS.map(([v, label]) => <option key={v} value={v}>{label}</option>)}
          </select>
        </label>
        <button type="button" onClick={() => void check()}>Verify chain</button>
        {verify && <span role="status" data-testid="verify">{verify}</span>}
      </div>
      {error && <p className="error" role="alert">{error}</p>}
      <div className="table-wrap">
        <table className="audit">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Time</th>
              <th scope="col">Actor</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">Namespace</th>
              <th scope="col">Outcome</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((r) => (
              <tr key={r.seq} className={r.outcome}>
                <td>{r.seq}</td>
                <td>{when(r.at)}</td>
                <td>{r.actor}</td>
                <td>{r.action}</td>
                <td>{r.target ?? ''}</td>
                <td>{r.namespace ?? ''}</td>
                <td>{r.outcome}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className="muted">{shown.length} of {rows?.length ?? 0} rows (newest first, at most {SHOWN}).</p>
    </section>
  );
}
