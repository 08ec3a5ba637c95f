/**
 * Chat studio: pick a model, talk to it; replies stream in with tokens/s, Stop ends generation (the
 * daemon stops when the request goes away). The conversation stays in this browser (localStorage);
 * a model-access key (non-admin users) stays in sessionStorage like the API key.
 */
import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { errorText } from '../api';
import { listModels, MODEL_KEY_STORAGE, streamChat, type ChatMessage, type ModelAuth } from '../llm';
import { useSession } from '../session';

const CONVERSATION = 'bkg.chat.conversation';

function loadConversation(): ChatMessage[] {
  try {
    const v = JSON.parse(localStorage.getItem(CONVERSATION) ?? '[]') as unknown;
    return Array.isArray(v) ? (v as ChatMessage[]) : [];
  } catch {
    return [];
  }
}

export function ChatPage() {
  const { key, can } = useSession();
  const admin = can('llm.manage');
  const [modelKey, setModelKey] = useState<{ token: string; namespace: string }>(() => {
    try {
      return JSON.parse(sessionStorage.getItem(MODEL_KEY_STORAGE) ?? '') as { token: string; namespace: string };
    } catch {
      return { token: '', namespace: '' };
    }
  });
  const auth: ModelAuth | null = useMemo(
    () => (admin ? { kind: 'admin', key } : modelKey.token ? { kind: 'model-key', token: modelKey.token, namespace: modelKey.namespace } : null),
    [admin, key, modelKey],
  );
  const [models, setModels] = useState<string[]>([]);
  const [model, setModel] = useState('');
  const [messages, setMessages] = useState<ChatMessage[]>(loadConversation);
  const [draft, setDraft] = useState('');
  const [streaming, setStreaming] = useState<AbortController | null>(null);
  const [rate, setRate] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const log = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!auth) return;
    listModels(auth).then(
      (ms) => {
        setModels(ms);
        setModel((m) => (m && ms.includes(m) ? m : (ms[0] ?? '')));
      },
      (err: unknown) => setError(errorText(err)),
    );
  }, [auth]);
  useEffect(() => {
    localStorage.setItem(CONVERSATION, JSON.stringify(messages));
    log.current?.scrollTo({ top: log.current.scrollHeight });
  }, [messages]);

  const send = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (!auth || !model || !draft.trim()) return;
    const history: ChatMessage[] = [...messages, { role: 'user', content: draft.trim() }];
    setMessages([...history, { role: 'assistant', content: '' }]);
    setDraft('');
    setError(null);
    const ac = new AbortController();
    setStreaming(ac);
    const started = performance.now();
    let n = 0;
    try {
      const stats = await streamChat(
        auth,
        model,
        history,
        (t) => {
          n++;
          setRate(`${n} tokens, ${(n / ((performance.now() - started) / 1000)).toFixed(1)} tokens/s`);
          setMessages((ms) => {
            const last = ms[ms.length - 1];
            return last ? [...ms.slice(0, -1), { ...last, content: last.content + t }] : ms;
          });
        },
        ac.signal,
      );
      setRate(`${stats.tokens} tokens in ${(stats.ms / 1000).toFixed(2)} s: ${(stats.tokens / (stats.ms / 1000)).toFixed(1)} tokens/s${stats.firstTokenMs !== null ? `, first after ${stats.firstTokenMs.toFixed(0)} ms` : ''}${ac.signal.aborted ? ' (stopped)' : ''}`);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setStreaming(null);
    }
  };

  const saveModelKey = (e: FormEvent<HTMLFormElement>): void => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const v = { token: String(f.get('token') ?? '').trim(), namespace: String(f.get('namespace') ?? '').trim() };
    sessionStorage.setItem(MODEL_KEY_STORAGE, JSON.stringify(v));
    setModelKey(v);
  };

  return (
    <section aria-labelledby="chat-title" className="chat">
      <h1 id="chat-title">Chat</h1>
      {!admin && (
        <form className="inline" onSubmit={saveModelKey} aria-label="Model-access key">
          <label>Model-access key <input name="token" type="password" autoComplete="off" defaultValue={modelKey.token} /></label>
          <label>Namespace <input name="namespace" defaultValue={modelKey.namespace} /></label>
          <button type="submit">Use</button>
        </form>
      )}
      <div className="inline">
        <label>
          Model{' '}
          <select name="model" value={model} onChange={(e) => setModel(e.target.value)} disabled={models.length === 0}>
            {models.length === 0 && <option value="">no models</option>}
            {models.map((m) => <option key={m}>{m}</option>)}
          </select>
        </label>
        <button type="button" className="quiet" onClick={() => setMessages([])} disabled={!!streaming || messages.length === 0}>New conversation</button>
        {rate && <span className="muted" data-testid="rate" role="status">{rate}</span>}
      </div>
      <div className="messages" ref={log} aria-live="polite" aria-label="Conversation">
        {messages.map((m, i) => (
          <div key={i} className={`msg ${m.role}`} data-role={m.role}>
            <span className="who-says">{m.role === 'user' ? 'You' : model || 'model'}</span>
            <p>{m.content || (streaming && i === messages.length - 1 ? '…' : '')}</p>
          </div>
        ))}
      </div>
      {error && <p className="error" role="alert">{error}</p>}
      <form className="compose" onSubmit={(e) => void send(e)}>
        <label htmlFor="prompt" className="sr-only">Message</label>
        <textarea
          id="prompt"
          name="prompt"
          rows={2}
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey) {
              e.preventDefault();
              e.currentTarget.form?.requestSubmit();
            }
          }}
          placeholder="Say something (Enter sends, Shift+Enter: new line)"
        />
        {streaming ? (
          <button type="button" className="danger" onClick={() => streaming.abort()}>Stop</button>
        ) : (
          <button type="submit" disabled={!auth || !model || !draft.trim()}>Send</button>
        )}
      </form>
    </section>
  );
}
