/**
 * Talking to models from the browser. With an admin key (llm.manage): the registry's models and
 * POST /api/v1/admin/llm/chat. Otherwise with a model-access key (an approved request's JWT) and
 * its namespace: the OpenAI-compatible GET /v1/models and POST /v1/chat/completions. Replies stream
 * as server-sent events; each text piece is one generated token.
 */
import { api, raw } from './api';
import { readSse } from './sse';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** How to reach models: the signed-in admin key, or a model-access key for a namespace. */
export type ModelAuth = { kind: 'admin'; key: string } | { kind: 'model-key'; token: string; namespace: string };

export interface ChatStats {
  tokens: number;
  ms: number;
  firstTokenMs: number | null;
}

/** Where a model-access key and its namespace are kept for this tab (sessionStorage, like the API key). */
export const MODEL_KEY_STORAGE = 'bkg.chat.model-key';

/** The model access this tab has: the admin key itself, else a stored model-access key, else none. */
export function modelAuth(admin: boolean, key: string): ModelAuth | null {
  if (admin) return { kind: 'admin', key };
  try {
    const v = JSON.parse(sessionStorage.getItem(MODEL_KEY_STORAGE) ?? '') as { token?: string; namespace?: string };
    return v.token ? { kind: 'model-key', token: v.token, namespace: v.namespace ?? '' } : null;
  } catch {
    return null;
  }
}

function headers(auth: ModelAuth): Record<string, string> {
  return auth.kind === 'model-key' ? { 'x-cave-namespace': auth.namespace } : {};
}

function bearerOf(auth: ModelAuth): string {
  return auth.kind === 'admin' ? auth.key : auth.token;
}

export async function listModels(auth: ModelAuth): Promise<string[]> {
  if (auth.kind === 'admin') return (await api<{ models: { id: string }[] }>(auth.key, 'GET', '/api/v1/admin/llm/models')).models.map((m) => m.id);
  const res = await raw(auth.token, 'GET', '/v1/models', { headers: headers(auth) });
  return ((await res.json()) as { data: { id: string }[] }).data.map((m) => m.id);
}

/** Stream a reply: `onText` gets each piece; resolves with the counts when done (or stopped by `signal`). */
export async function streamChat(auth: ModelAuth, model: string, messages: ChatMessage[], onText: (t: string) => void, signal: AbortSignal, maxTokens = 256): Promise<ChatStats> {
  const started = performance.now();
  let firstTokenMs: number | null = null;
  let tokens = 0;
  const piece = (t: string): void => {
    if (!t) return;
    firstTokenMs ??= performance.now() - started;
    tokens++;
    onText(t);
  };
  const body = { model, messages, max_tokens: maxTokens, stream: true };
  const path = auth.kind === 'admin' ? '/api/v1/admin/llm/chat' : '/v1/chat/completions';
  try {
    const res = await raw(bearerOf(auth), 'POST', path, { body, headers: { ...headers(auth), accept: 'text/event-stream' }, signal });
    if (!res.body) throw new Error('the reply has no body');
    await readSse(
      res.body,
      (m) => {
        if (m.data === '[DONE]') return;
        const d = JSON.parse(m.data) as { text?: string; choices?: { delta?: { content?: string } }[] };
        if (typeof d.text === 'string') piece(d.text);
        else if (d.choices?.[0]?.delta?.content) piece(d.choices[0].delta.content);
      },
      signal,
    );
  } catch (err) {
    if (!signal.aborted) throw err;
  }
  return { tokens, ms: performance.now() - started, firstTokenMs };
}

/** The whole reply as one string (the workflow's "prompt a model" node). */
export async function complete(auth: ModelAuth, model: string, prompt: string, signal: AbortSignal, maxTokens = 64): Promise<string> {
  let out = '';
  await streamChat(auth, model, [{ role: 'user', content: prompt }], (t) => (out += t), signal, maxTokens);
  return out;
}
