/** The admin LLM's interfaces: the model registry and the inference engine behind the daemon's routes. */
import type { ModelManifest } from '../api/schema/llm.js';

/** A verified model in the cache (its shape is the wire contract's). */
export type { ModelManifest } from '../api/schema/llm.js';

/** What inference needs from the registry. */
export interface ModelLookup {
  get(id: string): ModelManifest | null;
  /** Absolute path of the verified blob. */
  blobPath(m: ModelManifest): string;
  /** Record a use (for least-recently-used eviction). */
  touch(id: string): void;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatRequest {
  modelId: string;
  modelPath: string;
  messages: ChatMessage[];
  maxTokens: number;
  temperature: number;
  /** Aborts generation (client went away, request cancelled). */
  signal?: AbortSignal;
  /** Each piece of text as it is generated; awaited, so a slow consumer slows generation (backpressure). */
  onText?: (text: string) => void | Promise<void>;
}

export interface ChatResult {
  text: string;
  promptTokens: number;
  completionTokens: number;
  finishReason: 'stop' | 'length' | 'cancelled';
  /** From the call to the first generated text, ms. */
  firstTokenMs: number | null;
  durationMs: number;
}

export interface CompletionRequest extends Omit<ChatRequest, 'messages'> {
  prompt: string;
}

/**
 * Models this host does not hold but a trusted peer does (the P2P plugin): a chat for one is run
 * there and streamed back. The model-access key was checked here; the request's onText sees every
 * piece, and what it throws (a key revoked meanwhile) stops the call there too.
 */
export interface RemoteModels {
  holds(modelId: string): Promise<boolean>;
  /** An engine that runs chats on a peer holding the model, or null when none does. */
  engine(modelId: string, use: { actor: string; namespace: string | null }): Promise<(Pick<InferenceEngine, 'chat'> & { peer: string }) | null>;
}

export interface InferenceEngine {
  chat(req: ChatRequest): Promise<ChatResult>;
  complete(req: CompletionRequest): Promise<ChatResult>;
  embed(req: { modelId: string; modelPath: string; input: string[] }): Promise<{ vectors: number[][]; promptTokens: number }>;
  /** Models currently loaded (kept warm; unloaded after idling). */
  loaded(): string[];
  close(): Promise<void>;
}
