/** Peers (admin, the P2P plugin): this node's status, the trusted peers (add, remove), pulling a model from them. */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { actionRunner, api, enc, errorText } from '../api';
import { useSession } from '../session';
import { bytes, when } from '../ui';

interface Status { enabled: boolean; peer_id: string | null; listen: string[]; network_key_fingerprint: string | null; trusted: number; connected: number }
interface PeerModel { id: string; name: string; size_bytes: number }
interface Peer { peer_id: string; name: string | null; addrs: string[]; connected: boolean; latency_ms: number | null; last_seen_at: string | null; models: PeerModel[] | null }

export function PeersPage() {
  const { key } = useSession();
  const [status, setStatus] = useState<Status | null>(null);
  const [peers, setPeers] = useState<Peer[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const s = await api<Status>(key, 'GET', '/api/v1/admin/peers/status');
      setStatus(s);
      setPeers(s.enabled ? (await api<{ peers: Peer[] }>(key, 'GET', '/api/v1/admin/peers')).peers : []);
    } catch (err) {
      setError(errorText(err));
    }
  }, [key]);
  useEffect(() => void load(), [load]);

  const run = actionRunner(setError, load, () => setNote(null));
  const add = (e: FormEvent<HTMLFormElement>): void => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    const name = String(f.get('peer-name') ?? '').trim();
    void run(async () => {
      await api(key, 'POST', '/api/v1/admin/peers', { address: String(f.get('address') ?? '').trim(), ...(name ? { name } : {}) });
      form.reset();
    });
  };
  const pull = (name: string): void =>
    void run(async () => {
      const r = await api<{ job_id: string }>(key, 'POST', '/api/v1/admin/peers/pull', { name });
      setNote(`pulling ${name} from peers (job ${r.job_id}): see Models for its progress`);
    });

  return (
    <section aria-labelledby="peers-title">
      <h1 id="peers-title">Peers</h1>
      {error && <p className="error" role="alert">{error}</p>}
      {note && <p role="status">{note}</p>}
      {status && (
        <p data-testid="p2p-status">
          {status.enabled ? (
            <>P2P on: <code>{status.peer_id}</code>, {status.connected} of {status.trusted} trusted peers connected{status.network_key_fingerprint ? <>, network key <code>{status.network_key_fingerprint}</code></> : null}. Listening on {status.listen.join(', ') || '—'}.</>
          ) : (
            <>P2P is off on this host (<code>bkg peers init</code>, then restart the daemon with it enabled).</>
          )}
        </p>
      )}
      {status?.enabled && (
        <>
          <form className="inline" onSubmit={add} aria-label="Add a peer">
            <label>Address <input name="address" required placeholder="/ip4/…/tcp/…/p2p/12D3Koo…" /></label>
            <label>Name <input name="peer-name" /></label>
            <button type="submit">Trust and connect</button>
          </form>
          <ul className="plain">
            {peers.length === 0 && <li className="muted">No trusted peers.</li>}
            {peers.map((p) => (
              <li key={p.peer_id}>
                <strong>{p.name ?? p.peer_id.slice(-8)}</strong> <code>{p.peer_id}</code> — {p.connected ? `connected${p.latency_ms !== null ? `, ${Math.round(p.latency_ms)} ms` : ''}` : `not connected (last seen ${when(p.last_seen_at)})`}{' '}
                <button type="button" className="danger" aria-label={`Remove peer ${p.name ?? p.peer_id}`} onClick={() => confirm(`Stop trusting ${p.name ?? p.peer_id}?`) && void run(async () => void (await api(key, 'DELETE', `/api/v1/admin/peers/${enc(p.peer_id)}`)))}>Remove</button>
                {p.models && p.models.length > 0 && (
                  <ul>
                    {p.models.map((m) => (
                      <li key={m.id}>
                        {m.name} ({bytes(m.size_bytes)}) <button type="button" className="quiet" onClick={() => pull(m.name)}>Pull</button>
                      </li>
                    ))}
                  </ul>
                )}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
