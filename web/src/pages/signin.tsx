/** Sign in with an API key: checked with GET /api/v1/whoami, then kept in sessionStorage only. */
import { useEffect, useState, type FormEvent } from 'react';
import { api, errorText, type Whoami } from '../api';

export function SignIn({ onSignedIn, problem }: { onSignedIn(key: string, who: Whoami): void; problem: string | null }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(problem);
  const [busy, setBusy] = useState(false);
  // when the form can first be used (the tests measure the first load by it)
  useEffect(() => void performance.mark('bkg:signin-ready'), []);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const k = key.trim();
      onSignedIn(k, await api<Whoami>(k, 'GET', '/api/v1/whoami'));
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="signin">
      <form onSubmit={(e) => void submit(e)} aria-labelledby="signin-title">
        <h1 id="signin-title">bkg</h1>
        <p>Sign in with an API key (<code>bkg key create NAME --role admin</code>). It stays in this tab only.</p>
        <label htmlFor="key">API key</label>
        <input id="key" name="key" type="password" autoComplete="off" spellCheck={false} required value={key} onChange={(e) => setKey(e.target.value)} placeholder="bkg_…" />
        <button type="submit" disabled={busy || key.trim() === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
