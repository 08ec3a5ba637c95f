/**
 * The admin LLM's access-key flow and inference routes: requests, approval, revocation; chat at
 * /api/v1/llm/chat and the OpenAI-compatible /v1/chat/completions and /v1/models. Inference routes
 * authenticate with a model-access key (a signed JWT) and X-Cave-Namespace, not with API keys.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BkgError, toErrorBody } from '../../api/errors.js';
import { NAMESPACE_HEADER } from '../../api/names.js';
import { ROUTES } from '../../api/routes.js';
import { accessRequestView, type AccessClaims, type ModelAccess, type Scope } from '../../llm/access.js';
import { chatChunk, chatCompletion, completionId, modelsList, unixSeconds } from '../../llm/openai-format.js';
import { writeSse } from '../../llm/sse.js';
import type { ChatMessage, ChatResult, InferenceEngine, ModelLookup, RemoteModels } from '../../llm/types.js';
import { epochMs, NO_TRACING, type Tracing } from '../../runtime/tracing.js';
import type { AuditLog } from '../../store/audit.js';
import type { Principal } from '../auth/api-keys.js';
import { bearer } from '../auth/authenticate.js';
import type { Authorizer } from '../auth/authorize.js';
import type { Action } from '../auth/rights.js';
import type { EventPublisher } from '../events/publisher.js';
import type { Reply, RequestContext } from '../http/context.js';
import { failureOutcome, type Router } from '../http/router.js';

export interface LlmDeps {
  access: ModelAccess;
  models: ModelLookup;
  engine: () => Promise<InferenceEngine>;
  /** Models a trusted peer holds (the P2P plugin): chats for them are routed there (absent: none). */
  remote?: RemoteModels;
  audit: AuditLog;
  authz: Authorizer;
  /** The live event stream: access requests made and decided (absent: nobody listens). */
  events?: Pick<EventPublisher, 'accessRequest'>;
  /** Traces: llm.chat with its queue (request to engine call), first token and generation (absent: none). */
  tracing?: Tracing;
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
    const ns = req.headers[NAMESPACE_HEADER];
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
  const keyUser = (claims: AccessClaims): User => ({ actor: claims.jti, namespace: claims.namespace });

  function auditUse(user: User, model: string, scope: Scope, r: ChatResult, routedTo?: string): void {
    d.audit.append({
      actor: user.actor, namespace: user.namespace, action: `llm.${scope}`, target: model, outcome: 'ok',
      details: { prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens, duration_ms: Math.round(r.durationMs), finish: r.finishReason, ...(routedTo ? { routed_to: routedTo } : {}) },
    });
  }

  /** A use of a key that failed once the key was accepted (a key revoked while its answer was made: denied; a peer that did not answer, a prompt too long: error). */
  function auditFailed(user: User, model: string, err: unknown, routedTo?: string): void {
    const { outcome, code } = failureOutcome(err);
    d.audit.append({ actor: user.actor, namespace: user.namespace, action: 'llm.chat', target: model, outcome, details: { code, ...(routedTo ? { routed_to: routedTo } : {}) } });
  }

  const tracing = d.tracing ?? NO_TRACING;
  /** One inference as spans: llm.chat around llm.queue (from the request's arrival to the engine call), llm.first_token and llm.generate. */
  function traced(model: string, arrived: number, call: () => Promise<ChatResult>): Promise<ChatResult> {
    return tracing.span('llm.chat', { 'gen_ai.request.model': model }, async () => {
      const called = epochMs();
      tracing.record('llm.queue', arrived, called);
      const r = await call();
      if (r.firstTokenMs !== null) tracing.record('llm.first_token', called, called + r.firstTokenMs);
      tracing.record('llm.generate', called, epochMs(), { 'gen_ai.usage.input_tokens': r.promptTokens, 'gen_ai.usage.output_tokens': r.completionTokens, 'gen_ai.response.finish_reasons': r.finishReason });
      return r;
    });
  }

  async function chat(ctx: RequestContext<unknown>, body: { model: string; messages: ChatMessage[]; max_tokens?: number; temperature?: number; stream?: boolean }, openai: boolean, admin?: User): Promise<Reply> {
    const arrived = epochMs();
    const user = admin ?? keyUser(await authorize(ctx.req, body.model, 'chat'));
    const m = d.models.get(body.model);
    // not here: a trusted peer that holds it runs it (the key was checked here; a revoke stops the stream)
    const routed = m ? null : ((await d.remote?.engine(body.model, user)) ?? null);
    if (!m && !routed) throw new BkgError('NOT_FOUND', `no model "${body.model}" in the registry`);
    // The LRU stamp is a database write: made while the first token is computed, not before it.
    if (m) {
      setImmediate(() => {
        try {
          d.models.touch(m.id);
        } catch {
          // the store closed meanwhile (the daemon stopping): the stamp does not matter then
        }
      });
    }
    const engine = routed ?? (await d.engine());
    const id = m?.id ?? body.model;
    const meta = { id: completionId(), model: id, created: unixSeconds() };
    const base = { modelId: id, modelPath: m ? d.models.blobPath(m) : '', messages: body.messages, maxTokens: body.max_tokens ?? 256, temperature: body.temperature ?? 0.7 };
    const native = (r: ChatResult) => ({ finish_reason: r.finishReason, usage: { prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens }, duration_ms: r.durationMs, first_token_ms: r.firstTokenMs });
    // A key revoked while its answer is made stops it at the next piece, local or routed (a routed call ends at the holder too).
    const stillValid = (): void => {
      if (!admin && d.access.isRevoked(user.actor)) throw new BkgError('FORBIDDEN', 'this model-access key was revoked while its answer was being made', { hint: 'Ask for a new key (bkg llm request-access MODEL) and have an admin approve it.', details: { model: id } });
    };
    if (!body.stream) {
      const gone = disconnectSignal(ctx.req);
      const r = await traced(id, arrived, () => engine.chat({ ...base, signal: gone.signal, onText: async () => stillValid() }))
        .catch((err: unknown) => {
          auditFailed(user, id, err, routed?.peer);
          throw err;
        })
        .finally(gone.release);
      auditUse(user, id, 'chat', r, routed?.peer);
      return { status: 200, body: openai ? chatCompletion(r, meta) : { model: id, message: { role: 'assistant', content: r.text }, ...native(r) } };
    }
    return {
      status: 200,
      takeover: async (res: ServerResponse) => {
        // Events are coalesced into few socket writes (the first one is never held back); see sse.ts.
        const sse = writeSse(res);
        if (openai) await sse.sendEvent(chatChunk({ role: 'assistant' }, meta));
        let r: ChatResult;
        try {
          r = await traced(id, arrived, () => engine.chat({ ...base, signal: sse.signal, onText: async (text) => {
            stillValid();
            await sse.sendEvent(openai ? chatChunk({ content: text }, meta) : { text });
          } }));
        } catch (err) {
          // the stream's head (200, text/event-stream) is out as soon as the engine is called: an error, before the first
          // piece or after some, is its last event (the same body as any error answer), never a cut connection
          auditFailed(user, id, err, routed?.peer);
          if (!(err instanceof BkgError)) throw err;
          await sse.sendEvent(toErrorBody(err).body);
          sse.end();
          return;
        }
        if (openai) {
          await sse.sendEvent(chatChunk({}, meta, r.finishReason));
          await sse.sendEvent('[DONE]');
        } else await sse.sendEvent({ done: true, ...native(r) });
        sse.end();
        // audited once per request, after the answer is out (never per token)
        auditUse(user, id, 'chat', r, routed?.peer);
      },
    };
  }

  router
    .route(ROUTES.requestAccess, async ({ principal, input: { body } }) => {
      d.authz.namespaceFor(principal, 'llm.request', body.cave_namespace);
      if (!d.models.get(body.model_id) && !(await d.remote?.holds(body.model_id))) throw new BkgError('NOT_FOUND', `no model "${body.model_id}" in the registry, nor held by a trusted peer`);
      const r = d.access.request({ modelId: body.model_id, namespace: body.cave_namespace, requestedBy: principal.id });
      d.events?.accessRequest(accessRequestView(r));
      return { status: 201, body: accessRequestView(r), audit: { target: body.model_id, namespace: body.cave_namespace, details: { request: r.id } } };
    })
    .route(ROUTES.accessRequests, async () => ({ status: 200, body: { requests: d.access.requests().map(accessRequestView) } }))
    .route(ROUTES.approve, async ({ principal, input: { params, body } }) => {
      const { token, claims } = await d.access.approve(params.id, principal.id, { scopes: body.scopes ?? ['chat'], ttlSeconds: body.ttl_s ?? 3600, rpm: body.rpm ?? 60 });
      const approved = accessRequestView(d.access.getRequest(params.id));
      d.events?.accessRequest(approved);
      return {
        status: 200,
        body: { request: approved, token, token_id: claims.jti, expires_at: new Date(claims.exp * 1000).toISOString(), scopes: claims.scopes, rpm: claims.rpm },
        audit: { target: claims.model_id, namespace: claims.namespace, details: { request: params.id, token_id: claims.jti } },
      };
    })
    .route(ROUTES.deny, async ({ principal, input: { params } }) => {
      const r = d.access.deny(params.id, principal.id);
      d.events?.accessRequest(accessRequestView(r));
      return { status: 200, body: accessRequestView(r), audit: { target: r.model_id, namespace: r.namespace } };
    })
    .route(ROUTES.accessTokens, async () => ({ status: 200, body: { tokens: d.access.tokens() } }))
    .route(ROUTES.revokeModelKey, async ({ input: { params, body } }) => {
      d.access.revoke(params.id, body.token_id);
      return { status: 200, body: { revoked: body.token_id }, audit: { details: { token_id: body.token_id } } };
    })
    .route(ROUTES.chat, async (ctx) => chat(ctx, ctx.input.body, false))
    // an admin's own chat with any model (`bkg llm chat`), with its API key instead of a model-access key
    .route(ROUTES.adminChat, async (ctx) => chat(ctx, ctx.input.body, false, { actor: ctx.principal.id, namespace: null }))
    .route(ROUTES.openaiChat, async (ctx) => chat(ctx, ctx.input.body, true))
    .route(ROUTES.openaiModels, async (ctx) => {
      // the models a key may use: its own, here or (its chats routed there) on a trusted peer
      const claims = await d.access.peek(bearer(ctx.req));
      const m = d.models.get(claims.model_id) ?? ((await d.remote?.holds(claims.model_id)) ? { id: claims.model_id, created_at: '' } : null);
      return { status: 200, body: modelsList(m ? [m] : []) };
    });
}
