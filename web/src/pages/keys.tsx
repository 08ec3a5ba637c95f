/** API keys (admin): create (the secret shown once), revoke, rotate. */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { actionRunner, api, enc, errorText } from '../api';
import { useSession } from '../session';
import { Copyable, when } from '../ui';

interface Key {
  id: string;
  name: string;
  role: string;
  namespace: string | null;
  sandbox_id: string | null;
  masked: string;
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
}

export function KeysPage() {
  const { key } = useSession();
  const [keys, setKeys] = useState<Key[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null);
  const [showSandboxKeys, setShowSandboxKeys] = useState(false);
  const [form, setForm] = useState({ name: '', role: 'namespace', namespace: 'default' });

  const load = useCallback(async () => {
    try {
      setKeys((await api<{ keys: Key[] }>(key, 'GET', '/api/v1/keys')).keys);
    } catch (err) {
      setError(errorText(err));
    }
  }, [key]);
  useEffect(() => void load(), [load]);

  const run = actionRunner(setError, load);

  const create = (e: FormEvent): void => {
    e.preventDefault();
    void run(async () => {
      const body = { name: form.name.trim(), role: form.role, ...(form.role !== 'admin' && form.namespace.trim() ? { namespace: form.namespace.trim() } : {}) };
      const r = await api<{ key: Key; secret: string }>(key, 'POST', '/api/v1/keys', body);
      setSecret({ name: r.key.name, secret: r.secret });
      setForm((f) => ({ ...f, name: '' }));
    });
  };

  const revoke = (k: Key): void => {
    if (!confirm(`Revoke key ${k.name}? Its next request is refused.`)) return;
    void run(async () => void (await api(key, 'POST', `/api/v1/keys/${enc(k.id)}/revoke`)));
  };
  const rotate = (k: Key): void => {
    if (!confirm(`Rotate key ${k.name}? The old secret stops working now.`)) return;
    void run(async () => {
      const r = await api<{ key: Key; secret: string }>(key, 'POST', `/api/v1/keys/${enc(k.id)}/rotate`);
      setSecret({ name: r.key.name, secret: r.secret });
    });
  };

  const shown = (keys ?? []).filter((k) => showSandboxKeys || k.sandbox_id === null);
  return (
    <section aria-labelledby="keys-title">
      <h1 id="keys-title">API keys</h1>
      <form className="inline" onSubmit={create} aria-label="Create a key">
        <label>Name <input name="key-name" required value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} /></label>
        <label>
          Role{' '}
          <select name="key-role" value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value })}>
            <option>admin</option>
            <option>namespace</option>
            <option>readonly</option>
          </select>
        </label>
        {form.role !== 'admin' && (
          <label>Namespace <input name="key-namespace" value={form.namespace} onChange={(e) => setForm({ ...form, namespace: e.target.value })} /></label>
        )}
        <button type="submit" disabled={form.name.trim() === ''}>Create key</button>
      </form>
      {secret && (
        <div className="notice" role="status">
          <p>
            The key <strong>{secret.name}</strong>, shown only now — copy it before you leave this page:
          </p>
          <Copyable value={secret.secret} label="the new key" />
          <button type="button" className="quiet" onClick={() => setSecret(null)}>Done</button>
        </div>
      )}
      {error && <p className="error" role="alert">{error}</p>}
      <label className="check">
        <input type="checkbox" checked={showSandboxKeys} onChange={(e) => setShowSandboxKeys(e.target.checked)} /> show sandboxes' own keys
      </label>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Role</th>
              <th scope="col">Namespace</th>
              <th scope="col">Key</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">State</th>
              <th scope="col"><span className="sr-only">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {shown.map((k) => (
              <tr key={k.id} data-key={k.name}>
                <th scope="row">{k.name}</th>
                <td>{k.sandbox_id ? 'sandbox' : k.role}</td>
                <td>{k.namespace ?? 'all'}</td>
                <td><code>{k.masked}</code></td>
                <td>{when(k.created_at)}</td>
                <td>{when(k.last_used_at)}</td>
                <td data-testid="key-state">{k.revoked_at ? 'revoked' : 'active'}</td>
                <td className="actions">
                  {!k.revoked_at && k.sandbox_id === null && (
                    <>
                      <button type="button" onClick={() => rotate(k)} aria-label={`Rotate ${k.name}`}>Rotate</button>
                      <button type="button" className="danger" onClick={() => revoke(k)} aria-label={`Revoke ${k.name}`}>Revoke</button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
