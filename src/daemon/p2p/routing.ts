/**
 * Inference routed between trusted peers. The calling host checked the model-access key; it then
 * asks a connected trusted peer that holds the model, with a short-lived peer token: its own
 * node's Ed25519 signature over {iss, aud, model, namespace, key, exp} (60 s), which the holder
 * checks against the connection's peer id (Noise already proved it) and its own id. Pieces of
 * the answer stream back as JSON frames; the caller's onText sees each, and what it throws (a key
 * revoked meanwhile) ends the routed call and stops the holder's generation. Both hosts audit the use.
 */
import { BkgError } from '../../api/errors.js';
import type { ChatMessage, ChatRequest, ChatResult, InferenceEngine, ModelLookup, RemoteModels } from '../../llm/types.js';
import type { Logger } from '../../log.js';
import type { Answer, P2pNode } from '../../p2p/node.js';
import type { AuditRepository, PeerRepository } from '../../store/repositories.js';
import { failureOutcome } from '../http/router.js';

const TOKEN_TTL_MS = 60_000;
const HOLDER_TTL_MS = 10_000;

export interface ChatRoutingDeps {
  node: () => P2pNode | null;
  peers: Pick<PeerRepository, 'list'>;
  models: ModelLookup;
  engine: () => Promise<InferenceEngine>;
  audit: Pick<AuditRepository, 'append'>;
  /** What a peer holds (its announcement), or null. */
  modelsOf(peer: string): Promise<{ id: string }[] | null>;
  log: Logger;
}

interface PeerToken {
  iss: string;
  aud: string;
  model: string;
  ns: string | null;
  key: string;
  exp: number;
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64url');

export class ChatRouting implements RemoteModels {
  /** model id → the peer that held it, and when that was asked. */
  private readonly holders = new Map<string, { peer: string; at: number }>();
  /** Tokens made (by peer, model and key) and checked (by token): each signature is made and verified once while it is fresh. */
  private readonly made = new Map<string, { token: string; exp: number }>();
  private readonly checked = new Map<string, PeerToken>();

  constructor(private readonly d: ChatRoutingDeps) {}

  async holds(modelId: string): Promise<boolean> {
    return (await this.holder(modelId)) !== null;
  }

  async engine(modelId: string, use: { actor: string; namespace: string | null }): Promise<(Pick<InferenceEngine, 'chat'> & { peer: string }) | null> {
    const node = this.d.node();
    const peer = await this.holder(modelId);
    if (!node || !peer) return null;
    return {
      peer,
      chat: async (req: ChatRequest): Promise<ChatResult> => {
        const token = await this.token(node, peer, modelId, use);
        const ac = new AbortController();
        const cancel = (): void => ac.abort(req.signal?.reason);
        req.signal?.addEventListener('abort', cancel, { once: true });
        let result: ChatResult | null = null;
        /** What the caller's own onText threw (a key revoked meanwhile): it ends the routed call, as itself. */
        let own: { err: unknown } | null = null;
        try {
          await node.askStream(peer, { op: 'chat', token, model: modelId, messages: req.messages, max_tokens: req.maxTokens, temperature: req.temperature }, async (e) => {
            if (typeof e.text === 'string') {
              try {
                await req.onText?.(e.text);
              } catch (err) {
                own = { err };
                throw err;
              }
            } else if (e.done === true) result = e.result as ChatResult;
          }, ac.signal);
        } catch (err) {
          if (own) throw (own as { err: unknown }).err;
          if (req.signal?.aborted) return { text: '', promptTokens: 0, completionTokens: 0, finishReason: 'cancelled', firstTokenMs: null, durationMs: 0 };
          this.holders.delete(modelId);
          throw new BkgError('PEER_UNAVAILABLE', `the peer holding ${modelId} did not answer: ${(err as Error).message}`, { details: { model: modelId, peer } });
        } finally {
          req.signal?.removeEventListener('abort', cancel);
        }
        if (!result) throw new BkgError('PEER_UNAVAILABLE', `the peer holding ${modelId} ended the answer early`, { details: { model: modelId, peer } });
        return result;
      },
    };
  }

  /** A peer token for this use, made anew when the last one has less than half its life left. */
  private async token(node: P2pNode, peer: string, model: string, use: { actor: string; namespace: string | null }): Promise<string> {
    const k = `${peer}\0${model}\0${use.actor}\0${use.namespace ?? ''}`;
    const cached = this.made.get(k);
    if (cached && cached.exp - Date.now() > TOKEN_TTL_MS / 2) return cached.token;
    const payload: PeerToken = { iss: node.peerId, aud: peer, model, ns: use.namespace, key: use.actor, exp: Date.now() + TOKEN_TTL_MS };
    const body = Buffer.from(JSON.stringify(payload));
    const token = `${b64(body)}.${b64(await node.sign(body))}`;
    if (this.made.size > 1000) this.made.clear();
    this.made.set(k, { token, exp: payload.exp });
    return token;
  }

  /** The claims of a peer token from `from`, checked (signature once, expiry every time), or null. */
  private async check(node: P2pNode, token: string, from: string, model: unknown): Promise<PeerToken | null> {
    let t = this.checked.get(token) ?? null;
    if (!t) {
      const [body, sig] = token.split('.');
      try {
        t = JSON.parse(Buffer.from(body ?? '', 'base64url').toString('utf8')) as PeerToken;
      } catch {
        return null;
      }
      if (!(await node.verify(from, Buffer.from(body ?? '', 'base64url'), Buffer.from(sig ?? '', 'base64url')))) return null;
      if (this.checked.size > 1000) this.checked.clear();
      this.checked.set(token, t);
    }
    const now = Date.now();
    return t.iss === from && t.aud === node.peerId && t.model === model && t.exp > now && t.exp - now <= TOKEN_TTL_MS ? t : null;
  }

  /** The holder's side: a routed chat from a trusted peer with a valid peer token. */
  async serve(req: Record<string, unknown>, from: string): Promise<Answer> {
    const node = this.d.node();
    if (!node) throw new Error('P2P is off');
    const t = await this.check(node, String(req.token ?? ''), from, req.model);
    if (!t) {
      this.d.audit.append({ actor: `peer:${from}`, namespace: null, action: 'llm.chat.routed', target: String(req.model), outcome: 'denied', details: { reason: 'invalid or expired peer token' } });
      throw new Error('invalid or expired peer token');
    }
    const m = this.d.models.get(t.model);
    if (!m) throw new Error(`no model ${t.model} here`);
    // the calling host validated the request against the contract; checked again here, never trusted
    const messages = req.messages;
    const ok = Array.isArray(messages) && messages.length <= 1000 && messages.every((x: { role?: unknown; content?: unknown }) => ['system', 'user', 'assistant'].includes(String(x?.role)) && typeof x?.content === 'string');
    const maxTokens = Number(req.max_tokens ?? 256);
    const temperature = Number(req.temperature ?? 0.7);
    if (!ok || !Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > 32_768 || !(temperature >= 0 && temperature <= 2)) throw new Error('not a valid chat request');
    const engine = await this.d.engine();
    return {
      header: { ok: true },
      events: async (send, signal) => {
        let r: ChatResult;
        try {
          r = await engine.chat({
            modelId: m.id, modelPath: this.d.models.blobPath(m), messages: (messages as ChatMessage[]).map((x) => ({ role: x.role, content: x.content })), maxTokens,
            temperature, signal, onText: (text) => send({ text }),
          });
        } catch (err) {
          // audited here too: the caller's row says the peer failed, this one why (a caller that went away: cancelled, as when the engine notices first)
          const { outcome, code } = failureOutcome(err);
          this.d.audit.append({ actor: `peer:${from}`, namespace: t.ns, action: 'llm.chat.routed', target: m.id, outcome: signal.aborted ? 'ok' : outcome, details: { key: t.key, ...(signal.aborted ? { finish: 'cancelled' } : { code }) } });
          throw err;
        }
        if (!signal.aborted) await send({ done: true, result: r });
        this.d.audit.append({
          actor: `peer:${from}`, namespace: t.ns, action: 'llm.chat.routed', target: m.id, outcome: 'ok',
          details: { key: t.key, prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens, duration_ms: Math.round(r.durationMs), finish: signal.aborted ? 'cancelled' : r.finishReason },
        });
      },
    };
  }

  /** A connected trusted peer that holds the model (asked again after a while, or after a failure). */
  private async holder(modelId: string): Promise<string | null> {
    const node = this.d.node();
    if (!node) return null;
    const cached = this.holders.get(modelId);
    if (cached && Date.now() - cached.at < HOLDER_TTL_MS && node.connected(cached.peer)) return cached.peer;
    const connected = this.d.peers.list().map((p) => p.peerId).filter((p) => node.connected(p));
    const found = await Promise.all(connected.map(async (p) => ((await this.d.modelsOf(p))?.some((m) => m.id === modelId) ? p : null)));
    const peer = found.find((p): p is string => p !== null) ?? null;
    if (peer) this.holders.set(modelId, { peer, at: Date.now() });
    else this.holders.delete(modelId);
    return peer;
  }
}
