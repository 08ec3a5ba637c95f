/**
 * The admin LLM's access-key flow and inference routes: requests, approval, revocation; chat at
 * /api/v1/llm/chat and the OpenAI-compatible /v1/chat/completions and /v1/models. Inference routes
 * authenticate with a model-access key (a signed JWT) and X-Cave-Namespace, not with API keys.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BkgError } from '../../api/errors.js';
import { NAME_PATTERN } from '../../api/sandboxes.js';
import { validate } from '../../api/validate.js';
import type { AccessClaims, ModelAccess, Scope } from '../../llm/access.js';
import { SCOPES } from '../../llm/access.js';
import { chatChunk, chatCompletion, completionId, modelsList, unixSeconds } from '../../llm/openai-format.js';
import { writeSse } from '../../llm/sse.js';
import type { ChatMessage, ChatResult, InferenceEngine, ModelLookup } from '../../llm/types.js';
import type { AuditLog } from '../../store/audit.js';
import type { Principal } from '../auth/api-keys.js';
import { bearer } from '../auth/authenticate.js';
import type { Authorizer } from '../auth/authorize.js';
import type { Action } from '../auth/rights.js';
import type { Reply, RequestContext } from '../http/context.js';
import type { Router } from '../http/router.js';

const messages = { type: 'array', required: true, maxLength: 1000, items: { type: 'object', properties: { role: { type: 'enum', values: ['system', 'user', 'assistant'], required: true }, content: { type: 'string', required: true, maxLength: 1_000_000 } } } } as const;
const ChatSchema = {
  type: 'object',
  properties: {
    model: { type: 'string', required: true, maxLength: 128 },
    messages,
    max_tokens: { type: 'integer', min: 1, max: 32_768 },
    temperature: { type: 'number', min: 0, max: 2 },
    stream: { type: 'boolean' },
  },
} as const;
/** OpenAI clients send more fields than we use; unknown ones are accepted and ignored. */
const OpenAiChatSchema = { ...ChatSchema, additionalProperties: true } as const;
const RequestSchema = { type: 'object', properties: { model_id: { type: 'string', required: true, maxLength: 128 }, cave_namespace: { type: 'string', required: true, pattern: NAME_PATTERN } } } as const;
const ApproveSchema = { type: 'object', properties: { scopes: { type: 'array', items: { type: 'enum', values: SCOPES } }, ttl_s: { type: 'integer', min: 1, max: 366 * 86_400 }, rpm: { type: 'integer', min: 1, max: 1_000_000 } } } as const;
const RevokeSchema = { type: 'object', properties: { token_id: { type: 'string', required: true, maxLength: 128 } } } as const;

export interface LlmDeps {
  access: ModelAccess;
  models: ModelLookup;
  engine: () => Promise<InferenceEngine>;
  audit: AuditLog;
  authz: Authorizer;
}

/** Aborts when the client goes away before a (non-streamed) answer is complete; release() when done. */
function disconnectSignal(req: IncomingMessage): { signal: AbortSignal; release(): void } {
  const ac = new AbortController();
  const abort = (): void => ac.abort();
  req.socket.once('close', abort);
  return { signal: ac.signal, release: () => req.socket.off('close', abort) };
}

export function llmRoutes(router: Router<Principal, Action>, d: LlmDeps): void {
  /** Authorize a model-access key for one use of `model` (denials audited). */
  async function authorize(req: IncomingMessage, model: string, scope: Scope): Promise<AccessClaims> {
    const ns = req.headers['x-cave-namespace'];
    const namespace = typeof ns === 'string' ? ns : undefined;
    try {
      return await d.access.authorize(bearer(req), { namespace, modelId: model, scope });
    } catch (err) {
      d.audit.append({ actor: 'model-key', namespace: namespace ?? null, action: `llm.${scope}`, target: model, outcome: 'denied', details: { code: err instanceof BkgError ? err.code : 'INTERNAL' } });
      throw err;
    }
  }

  /** Who a use of a model is billed to: a model-access key (its jti and namespace), or an admin's API key. */
  interface User {
    actor: string;
    namespace: string | null;
  }
  const keyUser = (claims: AccessClaims): User => ({ actor: claims.jti, namespace: claims.cave_ns });

  function auditUse(user: User, model: string, scope: Scope, r: ChatResult): void {
    d.audit.append({
      actor: user.actor, namespace: user.namespace, action: `llm.${scope}`, target: model, outcome: 'ok',
      details: { prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens, duration_ms: Math.round(r.durationMs), finish: r.finishReason },
    });
  }

  async function chat(ctx: RequestContext<unknown>, body: { model: string; messages: ChatMessage[]; max_tokens?: number; temperature?: number; stream?: boolean }, openai: boolean, admin?: User): Promise<Reply> {
    const user = admin ?? keyUser(await authorize(ctx.req, body.model, 'chat'));
    const m = d.models.get(body.model);
    if (!m) throw new BkgError('NOT_FOUND', `no model "${body.model}" in the registry`);
    d.models.touch(m.id);
    const engine = await d.engine();
    const meta = { id: completionId(), model: m.id, created: unixSeconds() };
    const base = { modelId: m.id, modelPath: d.models.blobPath(m), messages: body.messages, maxTokens: body.max_tokens ?? 256, temperature: body.temperature ?? 0.7 };
    const native = (r: ChatResult) => ({ finish_reason: r.finishReason, usage: { prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens }, duration_ms: r.durationMs, first_token_ms: r.firstTokenMs });
    if (!body.stream) {
      const gone = disconnectSignal(ctx.req);
      const r = await engine.chat({ ...base, signal: gone.signal }).finally(gone.release);
      auditUse(user, m.id, 'chat', r);
      return { status: 200, body: openai ? chatCompletion(r, meta) : { model: m.id, message: { role: 'assistant', content: r.text }, ...native(r) } };
    }
    return {
      status: 200,
      takeover: async (res: ServerResponse) => {
        const sse = writeSse(res);
        if (openai) await sse.sendEvent(chatChunk({ role: 'assistant' }, meta));
        const r = await engine.chat({ ...base, signal: sse.signal, onText: async (text) => void (await sse.sendEvent(openai ? chatChunk({ content: text }, meta) : { text })) });
        auditUse(user, m.id, 'chat', r);
        if (openai) {
          await sse.sendEvent(chatChunk({}, meta, r.finishReason));
          await sse.sendEvent('[DONE]');
        } else await sse.sendEvent({ done: true, ...native(r) });
        sse.end();
      },
    };
  }

  router
    .add('POST', '/api/v1/llm/requests', 'llm.request', async (ctx) => {
      const body = validate(RequestSchema, await ctx.body());
      const p = ctx.principal;
      d.authz.namespaceFor(p, 'llm.request', body.cave_namespace);
      if (!d.models.get(body.model_id)) throw new BkgError('NOT_FOUND', `no model "${body.model_id}" in the registry`);
      const r = d.access.request({ modelId: body.model_id, caveNamespace: body.cave_namespace, requestedBy: p.id });
      d.audit.append({ actor: p.id, namespace: body.cave_namespace, action: 'llm.request', target: body.model_id, outcome: 'ok', details: { request: r.id } });
      return { status: 201, body: r };
    })
    .add('GET', '/api/v1/admin/llm/requests', 'llm.manage', async () => {
      return { status: 200, body: { requests: d.access.requests() } };
    })
    .add('POST', '/api/v1/admin/llm/requests/:id/approve', 'llm.manage', async (ctx) => {
      const body = validate(ApproveSchema, (await ctx.body()) ?? {});
      const { token, claims } = await d.access.approve(ctx.params.id as string, ctx.principal.id, { scopes: body.scopes ?? ['chat'], ttlSeconds: body.ttl_s ?? 3600, rpm: body.rpm ?? 60 });
      d.audit.append({ actor: ctx.principal.id, namespace: claims.cave_ns, action: 'llm.approve', target: claims.model_id, outcome: 'ok', details: { request: ctx.params.id, token_id: claims.jti } });
      return { status: 200, body: { request: d.access.getRequest(ctx.params.id as string), token, token_id: claims.jti, expires_at: new Date(claims.exp * 1000).toISOString(), scopes: claims.scopes, rpm: claims.rpm } };
    })
    .add('POST', '/api/v1/admin/llm/requests/:id/deny', 'llm.manage', async (ctx) => {
      const r = d.access.deny(ctx.params.id as string, ctx.principal.id);
      d.audit.append({ actor: ctx.principal.id, namespace: r.cave_namespace, action: 'llm.deny', target: r.model_id, outcome: 'ok' });
      return { status: 200, body: r };
    })
    .add('GET', '/api/v1/admin/llm/tokens', 'llm.manage', async () => {
      return { status: 200, body: { tokens: d.access.tokens() } };
    })
    .add('POST', '/api/v1/admin/llm/models/:id/revoke_key', 'llm.manage', async (ctx) => {
      const { token_id } = validate(RevokeSchema, await ctx.body());
      d.access.revoke(ctx.params.id as string, token_id);
      d.audit.append({ actor: ctx.principal.id, namespace: null, action: 'llm.revoke', target: ctx.params.id as string, outcome: 'ok', details: { token_id } });
      return { status: 200, body: { revoked: token_id } };
    })
    .addPublic('POST', '/api/v1/llm/chat', async (ctx) => chat(ctx, validate(ChatSchema, await ctx.body()), false))
    // an admin's own chat with any model (`bkg llm chat`), with its API key instead of a model-access key
    .add('POST', '/api/v1/admin/llm/chat', 'llm.manage', async (ctx) => chat(ctx, validate(ChatSchema, await ctx.body()), false, { actor: ctx.principal.id, namespace: null }))
    .addPublic('POST', '/v1/chat/completions', async (ctx) => chat(ctx, validate(OpenAiChatSchema, await ctx.body()), true))
    .addPublic('GET', '/v1/models', async (ctx) => {
      // the models a key may use: its own
      const claims = await d.access.peek(bearer(ctx.req));
      const m = d.models.get(claims.model_id);
      return { status: 200, body: modelsList(m ? [m] : []) };
    });
}
