/**
 * A sandbox's workspace changes against its host workspace (added, modified, deleted), the new
 * content of a changed file (read from the sandbox), and Apply: write them to the host directory.
 */
import { useCallback, useEffect, useState } from 'react';
import { api, enc, errorText, raw } from '../api';
import { go } from '../route';
import { useSession } from '../session';

interface Change {
  path: string;
  kind: 'added' | 'modified' | 'deleted';
  type: string;
}

const MAX_SHOWN = 256 * 1024;

export function ChangesPage({ sandbox }: { sandbox: string }) {
  const { key, can } = useSession();
  const [changes, setChanges] = useState<Change[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState<{ path: string; text: string } | null>(null);
  const [applied, setApplied] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setChanges((await api<{ changes: Change[] }>(key, 'GET', `/api/v1/sandboxes/${enc(sandbox)}/changes`)).changes);
    } catch (err) {
      setError(errorText(err));
    }
  }, [key, sandbox]);
  useEffect(() => void load(), [load]);

  const show = async (c: Change): Promise<void> => {
    setError(null);
    try {
      const res = await raw(key, 'GET', `/api/v1/sandboxes/${enc(sandbox)}/files?path=${enc(`/workspace/${c.path}`)}`);
      const buf = await res.arrayBuffer();
      const text = new TextDecoder('utf-8', { fatal: false }).decode(buf.slice(0, MAX_SHOWN));
      setOpen({ path: c.path, text: buf.byteLength > MAX_SHOWN ? `${text}\n… (${buf.byteLength} bytes in all)` : text });
    } catch (err) {
      setError(errorText(err));
    }
  };

  const apply = async (): Promise<void> => {
    if (!confirm(`Write ${changes?.length ?? 0} changes of ${sandbox} to its host workspace?`)) return;
    setError(null);
    try {
      const r = await api<{ applied: Change[] }>(key, 'POST', `/api/v1/sandboxes/${enc(sandbox)}/apply`);
      setApplied(`applied ${r.applied.length} changes`);
    } catch (err) {
      setError(errorText(err));
    }
    await load();
  };

  return (
    <section aria-labelledby="ch-title">
      <div className="inline">
        <h1 id="ch-title">Changes: {sandbox}</h1>
        <button type="button" className="quiet" onClick={() => void load()}>Refresh</button>
        {can('sandbox.apply') && <button type="button" onClick={() => void apply()} disabled={!changes?.length}>Apply to host</button>}
        <button type="button" className="quiet" onClick={() => go('sandboxes')}>Back</button>
      </div>
      {applied && <p role="status">{applied}</p>}
      {error && <p className="error" role="alert">{error}</p>}
      {changes === null ? <p role="status">Loading…</p> : changes.length === 0 ? <p>No changes in /workspace.</p> : (
        <ul className="changes">
          {changes.map((c) => (
            <li key={c.path} className={c.kind}>
              <span className="kind">{c.kind === 'added' ? '+' : c.kind === 'deleted' ? '−' : '~'}</span>
              {c.type === 'file' && c.kind !== 'deleted' ? <button type="button" className="link" onClick={() => void show(c)}>{c.path}</button> : <span>{c.path}</span>}
              <small className="muted"> {c.kind} {c.type}</small>
            </li>
          ))}
        </ul>
      )}
      {open && (
        <figure className="file">
          <figcaption>/workspace/{open.path}</figcaption>
          <pre>{open.text}</pre>
        </figure>
      )}
    </section>
  );
}
