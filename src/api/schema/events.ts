/**
 * The daemon's live event stream (GET /api/v1/events, a WebSocket, or Server-Sent Events for
 * `Accept: text/event-stream`): one JSON message per event, each with a monotonically increasing
 * id. Reconnecting with `?since=ID` replays the events after ID from a bounded buffer, or, when they
 * have left it, says so with a `stream.gap` message before going on live (usage samples are live
 * only: they are never buffered, so never replayed). Every event is filtered by
 * the caller's rights exactly like REST: a namespace key sees its namespace's sandboxes, a sandbox
 * key its own sandbox, and only admin keys get audit and model events.
 */
import { AuditEventView } from './admin.js';
import { NullableTimestamp, Timestamp, z } from './common.js';
import { AccessRequest, DownloadJob } from './llm.js';
import { ExecSummary, NetworkDenial } from './sandboxes.js';

/** Every kind of event, by the `type` field. */
export const EVENT_TYPES = [
  'sandbox.created', 'sandbox.started', 'sandbox.stopped', 'sandbox.deleted', 'sandbox.expired', 'sandbox.oom_killed', 'sandbox.failed',
  'exec.started', 'exec.finished', 'network.denied', 'usage', 'audit', 'model.pull', 'model.access_request',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];
export const SANDBOX_EVENT_TYPES = ['sandbox.created', 'sandbox.started', 'sandbox.stopped', 'sandbox.deleted', 'sandbox.expired', 'sandbox.oom_killed', 'sandbox.failed'] as const;

/** What every event carries. */
const base = {
  id: z.int().min(1).describe('Monotonically increasing within one daemon run (a restarted daemon starts again at 1: `stream.ready` says which run).'),
  at: Timestamp,
};

/** The sandbox an event is about, as a list row shows it. */
export const SandboxRef = z.object({
  id: z.string(),
  name: z.string(),
  namespace: z.string(),
  status: z.string(),
}).strict();

export const SandboxEvent = z.object({
  ...base,
  type: z.enum(SANDBOX_EVENT_TYPES),
  sandbox: SandboxRef,
  actor: z.string().nullable().describe('The key that did it (`daemon` for what the daemon does on its own: expiry, an OOM kill seen in a sample).'),
  reason: z.string().optional(),
}).strict();

export const ExecRef = z.object({
  id: z.string().describe('Pairs exec.started with its exec.finished.'),
  cmd: z.array(z.string()).describe('The command (arguments past 8192 characters in all are left out, the one that crosses the line cut and ended with "…").'),
  actor: z.string(),
}).strict();

export const ExecStartedEvent = z.object({ ...base, type: z.literal('exec.started'), sandbox: SandboxRef, exec: ExecRef }).strict();
export const ExecFinishedEvent = z.object({
  ...base,
  type: z.literal('exec.finished'),
  sandbox: SandboxRef,
  exec: ExecRef.extend(ExecSummary.shape).strict(),
}).strict();

/** The sandbox's egress proxy refused a connection (a network allow:…); identical ones are not repeated more than once a minute (`denial.count` says how many it stands for). */
export const NetworkDeniedEvent = z.object({ ...base, type: z.literal('network.denied'), sandbox: SandboxRef, denial: NetworkDenial }).strict();

/** One running sandbox's usage, read from its cgroups and writable layer. */
export const UsageSample = z.object({
  sandbox: SandboxRef,
  cpu_percent: z.number().nullable().describe('Of one core, over the last interval (200 = two cores busy).'),
  memory_bytes: z.number().nullable(),
  memory_limit_bytes: z.number().nullable(),
  pids: z.number().nullable(),
  pids_limit: z.number().nullable(),
  disk_bytes: z.number().nullable().describe('Used in its writable space.'),
  disk_limit_bytes: z.number().nullable(),
  started_at: NullableTimestamp,
  idle_expires_at: NullableTimestamp,
  expires_at: NullableTimestamp,
}).strict();

/** Live only: usage events take an id like every event, but are never buffered for replay. */
export const UsageEvent = z.object({
  ...base,
  type: z.literal('usage'),
  interval_ms: z.int(),
  samples: z.array(UsageSample).describe('Every running sandbox of this host the caller can see (one event per interval).'),
}).strict();

export const AuditStreamEvent = z.object({ ...base, type: z.literal('audit'), event: AuditEventView }).strict();
export const ModelPullEvent = z.object({ ...base, type: z.literal('model.pull'), job: DownloadJob }).strict();
export const AccessRequestEvent = z.object({ ...base, type: z.literal('model.access_request'), request: AccessRequest }).strict();

export const DaemonEvent = z.discriminatedUnion('type', [
  SandboxEvent, ExecStartedEvent, ExecFinishedEvent, NetworkDeniedEvent, UsageEvent, AuditStreamEvent, ModelPullEvent, AccessRequestEvent,
]);

/** daemon → client, first: where the stream stands. */
export const StreamReady = z.object({
  type: z.literal('stream.ready'),
  run: z.string().describe('This daemon run: when it changes, ids started again and replay from an older id is impossible.'),
  last_id: z.int().min(0).describe('The id of the newest event so far (0: none yet).'),
  oldest_id: z.int().min(0).describe('The oldest event still in the replay buffer (0: none).'),
  replayed: z.int().min(0).describe('How many buffered events follow before the live ones (for ?since=).'),
}).strict();

/** daemon → client: `since` asked for events that have left the buffer (or come from another daemon run). */
export const StreamGap = z.object({
  type: z.literal('stream.gap'),
  since: z.int(),
  oldest_id: z.int(),
  message: z.string(),
}).strict();

/** daemon → client, last: why the stream ends (a client too slow to keep up is cut off rather than buffered without bound). */
export const StreamEnd = z.object({
  type: z.literal('stream.end'),
  code: z.string(),
  message: z.string(),
}).strict();

export const StreamMessage = z.union([DaemonEvent, StreamReady, StreamGap, StreamEnd]);

export const EventsQuery = z.object({
  since: z.string().regex(/^\d+$/).optional().describe('Replay the buffered events after this id first.'),
  run: z.string().max(64).optional().describe('The run the `since` id belongs to (from stream.ready): from another run, a gap is reported.'),
  types: z.string().max(1024).optional().describe('Comma-separated event types (default: all the caller may see); `sandbox.*` style prefixes work.'),
}).strict();

export type SandboxRef = z.infer<typeof SandboxRef>;
export type SandboxEvent = z.infer<typeof SandboxEvent>;
export type ExecRef = z.infer<typeof ExecRef>;
export type ExecStartedEvent = z.infer<typeof ExecStartedEvent>;
export type ExecFinishedEvent = z.infer<typeof ExecFinishedEvent>;
export type NetworkDeniedEvent = z.infer<typeof NetworkDeniedEvent>;
export type UsageSample = z.infer<typeof UsageSample>;
export type UsageEvent = z.infer<typeof UsageEvent>;
export type AuditStreamEvent = z.infer<typeof AuditStreamEvent>;
export type ModelPullEvent = z.infer<typeof ModelPullEvent>;
export type AccessRequestEvent = z.infer<typeof AccessRequestEvent>;
export type DaemonEvent = z.infer<typeof DaemonEvent>;
export type StreamReady = z.infer<typeof StreamReady>;
export type StreamGap = z.infer<typeof StreamGap>;
export type StreamEnd = z.infer<typeof StreamEnd>;
export type StreamMessage = z.infer<typeof StreamMessage>;
export type EventsQuery = z.infer<typeof EventsQuery>;
/** An event as the daemon makes it, before the bus numbers it. */
export type NewEvent = DaemonEvent extends infer E ? (E extends DaemonEvent ? Omit<E, 'id' | 'at'> : never) : never;
