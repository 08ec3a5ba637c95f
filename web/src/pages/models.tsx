/**
 * Models (admin): the registry, pulls with live progress (model.pull events), trusted signers,
 * access requests to approve or deny (the model-access key shown once), issued keys to revoke.
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { actionRunner, api, enc, errorText } from '../api';
import { useSession } from '../session';
import { bytes, Copyable, when } from '../ui';

interface Model { id: string; name: string; sha256: string; size_bytes: number; source: string; signed_by: string | null; created_at: string; last_used_at: string | null }
interface Job { id: string; model_id: string | null; source: string; status: string; bytes_done: number; bytes_total: number | null; error: string | null }
interface Signer { fingerprint: string; name: string; created_at: string }
interface Req { id: string; model_id: string; cave_namespace: string; requested_by: string; status: string; created_at: string; token_id: string | null }
interface Token { jti: string; model_id: string; cave_ns: string; scopes: string[]; rpm: number; expires_at: string; revoked_at: string | null }

export function ModelsPage() {
  const { key, feed } = useSession();
  const [models, setModels] = useState<Model[]>([]);
  const [signers, setSigners] = useState<Signer[]>([]);
  const [requests, setRequests] = useState<Req[]>([]);
  const [tokens, setTokens] = useState<Token[]>([]);
  const [jobs, setJobs] = useState<Record<string, Job>>({});
  const [error, setError] = useState<string | null>(null);
  const [issued, setIssued] = useState<{ request: string; token: string } | null>(null);

  const load = useCallback(async () => {
    try {
      const [m, s, r, t] = await Promise.all([
        api<{ models: Model[] }>(key, 'GET', '/api/v1/admin/llm/models'),
        api<{ keys: Signer[] }>(key, 'GET', '/api/v1/admin/llm/trust'),
        api<{ requests: Req[] }>(key, 'GET', '/api/v1/admin/llm/requests'),
        api<{ tokens: Token[] }>(key, 'GET', '/api/v1/admin/llm/tokens'),
      ]);
      setModels(m.models);
      setSigners(s.keys);
      setRequests(r.requests);
      setTokens(t.tokens);
    } catch (err) {
      setError(errorText(err));
    }
  }, [key]);
  useEffect(() => {
    void load();
    return feed.on((e) => {
      if (e.type === 'model.pull') {
        const job = e.job as Job;
        setJobs((js) => ({ ...js, [job.id]: job }));
        if (job.status === 'done' || job.status === 'failed') void load();
      } else if (e.type === 'model.access_request' || e.type === 'resync') void load();
    });
  }, [feed, load]);

  const run = actionRunner(setError, load);
  const field = (e: FormEvent<HTMLFormElement>, name: string): string => String(new FormData(e.currentTarget).get(name) ?? '').trim();

  const pull = (e: FormEvent<HTMLFormElement>): void => {
    e.preventDefault();
    const form = e.currentTarget;
    const body = { source: field(e, 'source'), ...(field(e, 'name') ? { name: field(e, 'name') } : {}), ...(field(e, 'sha256') ? { sha256: field(e, 'sha256') } : {}) };
    void run(async () => {
      const r = await api<{ job_id: string; model_id: string }>(key, 'POST', '/api/v1/admin/llm/models', body);
      setJobs((js) => ({ ...js, [r.job_id]: js[r.job_id] ?? { id: r.job_id, model_id: r.model_id, source: body.source, status: 'queued', bytes_done: 0, bytes_total: null, error: null } }));
      form.reset();
    });
  };
  const trust = (e: FormEvent<HTMLFormElement>): void => {
    e.preventDefault();
    const form = e.currentTarget;
    const body = { name: field(e, 'signer-name'), public_key: field(e, 'public-key') };
    void run(async () => {
      await api(key, 'POST', '/api/v1/admin/llm/trust', body);
      form.reset();
    });
  };

  return (
    <section aria-labelledby="models-title" className="models">
      <h1 id="models-title">Models</h1>
      {error && <p className="error" role="alert">{error}</p>}
      <h2>Registry</h2>
      <form className="inline" onSubmit={pull} aria-label="Pull a model">
        <label>Source <input name="source" required placeholder="https://… or /path/on/host.gguf" /></label>
        <label>Name <input name="name" /></label>
        <label>sha256 <input name="sha256" pattern="(sha256:)?[0-9a-fA-F]{64}" /></label>
        <button type="submit">Pull</button>
      </form>
      {Object.values(jobs).filter((j) => j.status !== 'done').map((j) => (
        <p key={j.id} className="job" role="status">
          {j.model_id ?? j.source}: {j.status}{' '}
          {j.bytes_total ? <progress max={j.bytes_total} value={j.bytes_done} aria-label={`download of ${j.model_id ?? j.source}`} /> : null}{' '}
          {bytes(j.bytes_done)}{j.bytes_total ? ` of ${bytes(j.bytes_total)}` : ''}{j.error ? ` — ${j.error}` : ''}
        </p>
      ))}
      <div className="table-wrap">
        <table>
          <thead><tr><th scope="col">Model</th><th scope="col">Size</th><th scope="col">Signed by</th><th scope="col">Last used</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {models.map((m) => (
              <tr key={m.id}>
                <th scope="row" title={m.sha256}>{m.id}</th>
                <td>{bytes(m.size_bytes)}</td>
                <td>{m.signed_by ?? '—'}</td>
                <td>{when(m.last_used_at)}</td>
                <td className="actions"><button type="button" className="danger" aria-label={`Remove ${m.id}`} onClick={() => confirm(`Remove model ${m.id}?`) && void run(async () => void (await api(key, 'DELETE', `/api/v1/admin/llm/models/${enc(m.id)}`)))}>Remove</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      <h2>Access requests</h2>
      {issued && (
        <div className="notice" role="status">
          <p>Model-access key for request {issued.request}, shown only now:</p>
          <Copyable value={issued.token} label="the model-access key" />
          <button type="button" className="quiet" onClick={() => setIssued(null)}>Done</button>
        </div>
      )}
      <ul className="plain">
        {requests.length === 0 && <li className="muted">No requests.</li>}
        {requests.map((r) => (
          <li key={r.id} data-request={r.id}>
            <strong>{r.model_id}</strong> for <code>{r.cave_namespace}</code> by {r.requested_by} ({when(r.created_at)}): <span>{r.status}</span>
            {r.status === 'pending' && (
              <>
                {' '}<button type="button" onClick={() => void run(async () => {
                  const a = await api<{ token: string }>(key, 'POST', `/api/v1/admin/llm/requests/${enc(r.id)}/approve`, {});
                  setIssued({ request: r.id, token: a.token });
                })}>Approve</button>{' '}
                <button type="button" className="danger" onClick={() => void run(async () => void (await api(key, 'POST', `/api/v1/admin/llm/requests/${enc(r.id)}/deny`)))}>Deny</button>
              </>
            )}
          </li>
        ))}
      </ul>

      <h2>Model-access keys</h2>
      <ul className="plain">
        {tokens.length === 0 && <li className="muted">None issued.</li>}
        {tokens.map((t) => (
          <li key={t.jti} data-token={t.jti}>
            <code>{t.jti}</code> {t.model_id} for {t.cave_ns} ({t.scopes.join(', ')}, {t.rpm}/min, until {when(t.expires_at)}){' '}
            {t.revoked_at ? <span>revoked</span> : (
              <button type="button" className="danger" onClick={() => void run(async () => void (await api(key, 'POST', `/api/v1/admin/llm/models/${enc(t.model_id)}/revoke_key`, { token_id: t.jti })))}>Revoke</button>
            )}
          </li>
        ))}
      </ul>

      <h2>Trusted signers</h2>
      <form className="inline" onSubmit={trust} aria-label="Trust a signing key">
        <label>Name <input name="signer-name" required /></label>
        <label>Public key (PEM or base64) <textarea name="public-key" rows={2} required /></label>
        <button type="submit">Trust</button>
      </form>
      <ul className="plain">
        {signers.map((s) => (
          <li key={s.fingerprint}>
            {s.name} <code>{s.fingerprint}</code>{' '}
            <button type="button" className="danger" onClick={() => void run(async () => void (await api(key, 'DELETE', `/api/v1/admin/llm/trust/${enc(s.fingerprint)}`)))}>Untrust</button>
          </li>
        ))}
      </ul>
    </section>
  );
}
