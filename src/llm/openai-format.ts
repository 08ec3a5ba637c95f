/**
 * OpenAI-compatible response shapes for the admin LLM's routes
 * (/v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models).
 * Pure functions: the caller supplies ids and timestamps.
 *
 * finish_reason: OpenAI clients accept only 'stop' | 'length' (and reasons
 * bkg never produces, like 'tool_calls'), so a generation that was cancelled
 * reports 'stop': it ended early by request, not for want of tokens. A
 * cancelled generation normally has no client left to read it anyway.
 */
import { randomBytes } from 'node:crypto';
import type { ChatResult, ModelManifest } from './types.js';

export type OpenAiFinishReason = 'stop' | 'length';

/** What every response of one completion shares. */
export interface CompletionMeta {
  /** e.g. "chatcmpl-…" (see `completionId`). */
  id: string;
  model: string;
  /** Unix seconds. */
  created: number;
}

export interface OpenAiUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: [{ index: 0; message: { role: 'assistant'; content: string }; finish_reason: OpenAiFinishReason }];
  usage: OpenAiUsage;
}

export interface ChatDelta {
  role?: 'assistant';
  content?: string;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: [{ index: 0; delta: ChatDelta; finish_reason: OpenAiFinishReason | null }];
}

/** The final chunk of a stream when the client asked for `stream_options.include_usage`. */
export interface ChatUsageChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: [];
  usage: OpenAiUsage;
}

export interface TextCompletion {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: [{ index: 0; text: string; logprobs: null; finish_reason: OpenAiFinishReason | null }];
  usage?: OpenAiUsage;
}

export interface EmbeddingList {
  object: 'list';
  data: { object: 'embedding'; index: number; embedding: number[] }[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

export interface ModelList {
  object: 'list';
  data: { id: string; object: 'model'; created: number; owned_by: 'bkg' }[];
}

/** A fresh completion id: `chatcmpl-…` for chats, `cmpl-…` for text completions. */
export function completionId(prefix: 'chatcmpl' | 'cmpl' = 'chatcmpl'): string {
  return `${prefix}-${randomBytes(12).toString('hex')}`;
}

/** Unix seconds, as OpenAI's `created`. */
export function unixSeconds(date: Date | number = Date.now()): number {
  return Math.floor((typeof date === 'number' ? date : date.getTime()) / 1000);
}

/** bkg's finish reason in OpenAI's terms ('cancelled' → 'stop', see above). */
export function finishReason(r: ChatResult['finishReason']): OpenAiFinishReason {
  return r === 'length' ? 'length' : 'stop';
}

export function usage(result: Pick<ChatResult, 'promptTokens' | 'completionTokens'>): OpenAiUsage {
  return {
    prompt_tokens: result.promptTokens,
    completion_tokens: result.completionTokens,
    total_tokens: result.promptTokens + result.completionTokens,
  };
}

/** A whole (non-streamed) chat completion. */
export function chatCompletion(result: ChatResult, meta: CompletionMeta): ChatCompletion {
  return {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, message: { role: 'assistant', content: result.text }, finish_reason: finishReason(result.finishReason) }],
    usage: usage(result),
  };
}

/**
 * One streamed chat chunk. A stream sends `{role:'assistant'}` first, then
 * `{content}` per piece of text, then an empty delta with `finish`.
 */
export function chatChunk(delta: ChatDelta, meta: CompletionMeta, finish?: ChatResult['finishReason']): ChatCompletionChunk {
  const d: ChatDelta = {};
  if (delta.role !== undefined) d.role = delta.role;
  if (delta.content !== undefined) d.content = delta.content;
  return {
    id: meta.id,
    object: 'chat.completion.chunk',
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, delta: d, finish_reason: finish === undefined ? null : finishReason(finish) }],
  };
}

export function chatUsageChunk(result: Pick<ChatResult, 'promptTokens' | 'completionTokens'>, meta: CompletionMeta): ChatUsageChunk {
  return { id: meta.id, object: 'chat.completion.chunk', created: meta.created, model: meta.model, choices: [], usage: usage(result) };
}

/** A whole text completion (/v1/completions). */
export function textCompletion(result: ChatResult, meta: CompletionMeta): TextCompletion {
  return {
    id: meta.id,
    object: 'text_completion',
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, text: result.text, logprobs: null, finish_reason: finishReason(result.finishReason) }],
    usage: usage(result),
  };
}

/** One streamed text-completion chunk (same object as the whole, without usage). */
export function textChunk(text: string, meta: CompletionMeta, finish?: ChatResult['finishReason']): TextCompletion {
  return {
    id: meta.id,
    object: 'text_completion',
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, text, logprobs: null, finish_reason: finish === undefined ? null : finishReason(finish) }],
  };
}

export function embeddingList(vectors: number[][], model: string, promptTokens: number): EmbeddingList {
  return {
    object: 'list',
    data: vectors.map((embedding, index) => ({ object: 'embedding', index, embedding })),
    model,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  };
}

/** /v1/models: `created` is the manifest's created_at in Unix seconds (0 when unparseable, or unknown: a model a peer holds). */
export function modelsList(manifests: readonly Pick<ModelManifest, 'id' | 'created_at'>[]): ModelList {
  return {
    object: 'list',
    data: manifests.map((m) => {
      const t = Date.parse(m.created_at);
      return { id: m.id, object: 'model', created: Number.isNaN(t) ? 0 : unixSeconds(t), owned_by: 'bkg' };
    }),
  };
}
