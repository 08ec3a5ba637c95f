/** The admin LLM: chat (native and OpenAI-compatible), model-access requests and keys, the model registry. */
import { SCOPES } from '../names.js';
import { Name, NullableTimestamp, Timestamp, z } from './common.js';

export { SCOPES } from '../names.js';

export const ChatMessage = z.object({ role: z.enum(['system', 'user', 'assistant']), content: z.string().max(1_000_000) }).strict();
export const ChatRequest = z.object({
  model: z.string().max(128),
  messages: z.array(ChatMessage).max(1000),
  max_tokens: z.int().min(1).max(32_768).optional(),
  temperature: z.number().min(0).max(2).optional(),
  stream: z.boolean().optional().describe('Answer with server-sent events: data: {"text"} ... data: {"done": true, ...}.'),
}).strict();
/** OpenAI clients send more fields than bkg uses: unknown ones are accepted and ignored. */
export const OpenAiChatRequest = ChatRequest.extend({ messages: z.array(ChatMessage.loose()).max(1000) }).loose();

export const Usage = z.object({ prompt_tokens: z.int(), completion_tokens: z.int() }).strict();
export const ChatResponse = z.object({
  model: z.string(),
  message: z.object({ role: z.literal('assistant'), content: z.string() }).strict(),
  finish_reason: z.string(),
  usage: Usage,
  duration_ms: z.number(),
  first_token_ms: z.number().nullable(),
}).strict();

const OpenAiUsage = z.object({ prompt_tokens: z.int(), completion_tokens: z.int(), total_tokens: z.int() }).strict();
export const ChatCompletion = z.object({
  id: z.string(),
  object: z.literal('chat.completion'),
  created: z.int(),
  model: z.string(),
  choices: z.array(z.object({ index: z.int(), message: z.object({ role: z.literal('assistant'), content: z.string() }).strict(), finish_reason: z.enum(['stop', 'length']) }).strict()),
  usage: OpenAiUsage,
}).strict();
export const ModelList = z.object({
  object: z.literal('list'),
  data: z.array(z.object({ id: z.string(), object: z.literal('model'), created: z.int(), owned_by: z.literal('bkg') }).strict()),
}).strict();

export const AccessRequestCreate = z.object({ model_id: z.string().max(128), cave_namespace: Name }).strict();
export const AccessRequest = z.object({
  id: z.string(),
  model_id: z.string(),
  cave_namespace: z.string(),
  requested_by: z.string(),
  status: z.enum(['pending', 'approved', 'denied']),
  created_at: Timestamp,
  decided_at: NullableTimestamp,
  decided_by: z.string().nullable(),
  token_id: z.string().nullable(),
}).strict();
export const AccessRequestList = z.object({ requests: z.array(AccessRequest) }).strict();
export const ApproveRequest = z.object({
  scopes: z.array(z.enum(SCOPES)).optional(),
  ttl_s: z.int().min(1).max(366 * 86_400).optional(),
  rpm: z.int().min(1).max(1_000_000).optional(),
}).strict();
export const ApproveResponse = z.object({
  request: AccessRequest,
  token: z.string().describe('The model-access key (an EdDSA JWT): shown only here.'),
  token_id: z.string(),
  expires_at: Timestamp,
  scopes: z.array(z.enum(SCOPES)),
  rpm: z.int(),
}).strict();
export const AccessToken = z.object({
  jti: z.string(),
  model_id: z.string(),
  cave_ns: z.string(),
  scopes: z.array(z.enum(SCOPES)),
  rpm: z.int(),
  expires_at: Timestamp,
  revoked_at: NullableTimestamp,
  created_at: Timestamp,
}).strict();
export const AccessTokenList = z.object({ tokens: z.array(AccessToken) }).strict();
export const RevokeKeyRequest = z.object({ token_id: z.string().max(128) }).strict();
export const RevokeKeyResponse = z.object({ revoked: z.string() }).strict();

export const PullRequest = z.object({
  source: z.string().min(1).max(4096).describe('An http(s) URL or a path on the daemon\'s host.'),
  name: z.string().min(1).max(128).optional(),
  sha256: z.string().regex(/^(sha256:)?[0-9a-fA-F]{64}$/).optional(),
  sig_base64: z.string().min(1).max(256).regex(/^[A-Za-z0-9+/]+={0,2}$/).optional(),
}).strict();
export const StartedDownload = z.object({ job_id: z.string(), model_id: z.string() }).strict();
export const ModelManifest = z.object({
  id: z.string(),
  name: z.string(),
  sha256: z.string(),
  size_bytes: z.int(),
  source: z.string(),
  signed_by: z.string().nullable(),
  created_at: Timestamp,
  last_used_at: NullableTimestamp,
}).strict();
export const ModelManifestList = z.object({ models: z.array(ModelManifest) }).strict();
export const DownloadJob = z.object({
  id: z.string(),
  model_id: z.string().nullable(),
  source: z.string(),
  status: z.enum(['queued', 'downloading', 'verifying', 'done', 'failed']),
  bytes_done: z.int(),
  bytes_total: z.int().nullable(),
  error: z.string().nullable(),
  created_at: Timestamp,
  updated_at: Timestamp,
}).strict();
export const GcRequest = z.object({ cap_bytes: z.int().min(0).optional() }).strict();
export const GcResult = z.object({
  removed: z.array(z.object({ kind: z.enum(['model', 'blob', 'partial']), name: z.string(), bytes: z.int() }).strict()),
  freed_bytes: z.int(),
}).strict();
export const TrustRequest = z.object({ name: z.string().min(1).max(128), public_key: z.string().min(1).max(8192) }).strict();
export const TrustedKey = z.object({ fingerprint: z.string(), name: z.string(), public_key: z.string(), created_at: Timestamp }).strict();
export const TrustedKeyList = z.object({ keys: z.array(TrustedKey) }).strict();

export type ChatRequest = z.infer<typeof ChatRequest>;
export type AccessRequest = z.infer<typeof AccessRequest>;
export type ApproveResponse = z.infer<typeof ApproveResponse>;
export type GcResult = z.infer<typeof GcResult>;
export type ModelManifest = z.infer<typeof ModelManifest>;
