/**
 * Sandboxes, live: a snapshot from GET /api/v1/sandboxes?usage=1, then the event stream moves it
 * on (lifecycle events, usage samples every second). Actions appear only when the key holds them.
 */
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { api, enc, errorText } from '../api';
import type { StreamEvent } from '../events';
import { go } from '../route';
import { useSession } from '../session';
import { Bar, bytes } from '../ui';

interface Sandbox {
  id: string;
  name: string;
  namespace: string;
  status: string;
  runtime: string;
  network: string;
  limits: { memory_mb?: number; pids?: number; disk_mb?: number };
}

interface Usage {
  cpu_percent: number | null;
  memory_bytes: number | null;
  memory_limit_bytes: number | null;
  pids: number | null;
  pids_limit: number | null;
  disk_bytes: number | null;
  disk_limit_bytes: number | null;
}

const RUNTIMES = ['shell', 'python', 'node'];

export function SandboxesPage() {
  const { key, feed, can } = useSession();
  const [rows, setRows] = useState<Sandbox[] | null>(null);
  const [usage, setUsage] = useState<Record<string, Usage>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<Record<string, string>>({});
  const refetching = useRef<ReturnType<typeof setTimeout> | null>(null);

  const load = useCallback(async () => {
    try {
      const r = await api<{ sandboxes: Sandbox[] }>(key, 'GET', '/api/v1/sandboxes');
      setRows(r.sandboxes);
    } catch (err) {
      setError(errorText(err));
    }
  }, [key]);

  useEffect(() => {
    void load();
    const refetchSoon = (): void => {
      if (refetching.current) return;
      refetching.current = setTimeout(() => {
        refetching.current = null;
        void load();
      }, 150);
    };
    const off = feed.on((e: StreamEvent) => {
      if (e.type === 'resync') refetchSoon();
      else if (e.type === 'usage') {
        const next: Record<string, Usage> = {};
        for (const s of e.samples as (Usage & { sandbox: { id: string } })[]) next[s.sandbox.id] = s;
        setUsage(next);
      } else if (e.type.startsWith('sandbox.')) {
        const ref = e.sandbox as { id: string; status: string };
        if (e.type === 'sandbox.deleted') setRows((rs) => rs && rs.filter((r) => r.id !== ref.id));
        else setRows((rs) => {
          if (!rs?.some((r) => r.id === ref.id)) {
            refetchSoon(); // a new one: its full row comes from the API
            return rs;
          }
          return rs.map((r) => (r.id === ref.id ? { ...r, status: ref.status } : r));
        });
      }
    });
    return () => {
      off();
      if (refetching.current) clearTimeout(refetching.current);
    };
  }, [feed, load]);

  const act = async (s: Sandbox, what: 'start' | 'stop' | 'delete'): Promise<void> => {
    if (what === 'delete' && !confirm(`Delete sandbox ${s.name} and its files?`)) return;
    setBusy((b) => ({ ...b, [s.id]: what }));
    setError(null);
    try {
      if (what === 'delete') await api(key, 'DELETE', `/api/v1/sandboxes/${enc(s.id)}`);
      else await api(key, 'POST', `/api/v1/sandboxes/${enc(s.id)}/${what}`);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy((b) => {
        const { [s.id]: _, ...rest } = b;
        return rest;
      });
      void load();
    }
  };

  return (
    <section aria-labelledby="sb-title">
      <h1 id="sb-title">Sandboxes</h1>
      {can('sandbox.create') && <CreateForm onError={setError} />}
      {error && <p className="error" role="alert">{error}</p>}
      {rows === null ? (
        <p role="status">Loading…</p>
      ) : rows.length === 0 ? (
        <p>No sandboxes yet.</p>
      ) : (
        <div className="table-wrap">
          <table className="sandboxes">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Namespace</th>
                <th scope="col">Status</th>
                <th scope="col">CPU</th>
                <th scope="col">Memory</th>
                <th scope="col">Disk</th>
                <th scope="col">Pids</th>
                <th scope="col"><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {rows.map((s) => {
                const u = s.status === 'running' ? usage[s.id] : undefined;
                return (
                  <tr key={s.id} data-sandbox={s.name}>
                    <th scope="row">{s.name}<small className="sub">{s.runtime}</small></th>
                    <td>{s.namespace}</td>
                    <td><span className={`status ${s.status}`} data-testid="status">{busy[s.id] ? `${busy[s.id]}…` : s.status}</span></td>
                    <td><Bar label="CPU" value={u?.cpu_percent ?? null} max={100} text={u?.cpu_percent != null ? `${u.cpu_percent.toFixed(0)} %` : '—'} /></td>
                    <td><Bar label="Memory" value={u?.memory_bytes ?? null} max={u?.memory_limit_bytes ?? null} text={u?.memory_bytes != null ? bytes(u.memory_bytes) : '—'} /></td>
                    <td><Bar label="Disk" value={u?.disk_bytes ?? null} max={u?.disk_limit_bytes ?? null} text={u?.disk_bytes != null ? bytes(u.disk_bytes) : '—'} /></td>
                    <td>{u?.pids ?? '—'}</td>
                    <td className="actions">
                      {s.status !== 'running' && can('sandbox.start') && <button type="button" disabled={!!busy[s.id]} onClick={() => void act(s, 'start')} aria-label={`Start ${s.name}`}>Start</button>}
                      {s.status === 'running' && can('sandbox.stop') && <button type="button" disabled={!!busy[s.id]} onClick={() => void act(s, 'stop')} aria-label={`Stop ${s.name}`}>Stop</button>}
                      {s.status === 'running' && can('sandbox.exec') && <button type="button" onClick={() => go('terminal', s.name)} aria-label={`Terminal of ${s.name}`}>Terminal</button>}
                      {can('sandbox.read') && <button type="button" className="quiet" onClick={() => go('changes', s.name)} aria-label={`Changes of ${s.name}`}>Changes</button>}
                      {can('sandbox.delete') && <button type="button" className="danger" disabled={!!busy[s.id]} onClick={() => void act(s, 'delete')} aria-label={`Delete ${s.name}`}>Delete</button>}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function CreateForm({ onError }: { onError(e: string | null): void }) {
  const { key } = useSession();
  const [name, setName] = useState('');
  const [runtime, setRuntime] = useState('shell');
  const [start, setStart] = useState(true);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    onError(null);
    try {
      await api(key, 'POST', '/api/v1/sandboxes', { name: name.trim(), runtime });
      if (start) await api(key, 'POST', `/api/v1/sandboxes/${enc(name.trim())}/start`);
      setName('');
    } catch (err) {
      onError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="inline" onSubmit={(e) => void submit(e)} aria-label="Create a sandbox">
      <label>
        Name <input value={name} onChange={(e) => setName(e.target.value)} required pattern="[A-Za-z0-9][A-Za-z0-9_.\-]*" name="sandbox-name" />
      </label>
      <label>
        Runtime{' '}
        <select value={runtime} onChange={(e) => setRuntime(e.target.value)}>
          {RUNTIMES.map((r) => <option key={r}>{r}</option>)}
        </select>
      </label>
      <label className="check">
        <input type="checkbox" checked={start} onChange={(e) => setStart(e.target.checked)} /> start it
      </label>
      <button type="submit" disabled={busy || name.trim() === ''}>{busy ? 'Creating…' : 'Create'}</button>
    </form>
  );
}
