/** The WebSocket exec's frames (GET /api/v1/sandboxes/{id}/exec/ws); the protocol is described in ../exec-stream.ts. */
import { SIGNALS } from '../exec-stream.js';
import { Env, ErrorBody, z } from './common.js';
import { ExecSummary } from './sandboxes.js';

const size = z.int().min(1).max(9999);

export const StartFrame = z.object({
  type: z.literal('start'),
  cmd: z.array(z.string().max(131_072)).min(1).max(4096),
  env: Env.optional(),
  cwd: z.string().regex(/^\//).max(4096).optional(),
  timeout_ms: z.int().min(1).max(86_400_000).optional(),
  tty: z.boolean().optional(),
  rows: size.optional(),
  cols: size.optional(),
}).strict();
export const StdinEofFrame = z.object({ type: z.literal('stdin_eof') }).strict();
export const ResizeFrame = z.object({ type: z.literal('resize'), rows: size, cols: size }).strict();
export const SignalFrame = z.object({ type: z.literal('signal'), signal: z.enum(Object.keys(SIGNALS) as [keyof typeof SIGNALS, ...(keyof typeof SIGNALS)[]]).optional() }).strict();
/** client → daemon, after the start frame. */
export const ClientControlFrame = z.discriminatedUnion('type', [StdinEofFrame, ResizeFrame, SignalFrame]);

export const ExitFrame = ExecSummary.extend({ type: z.literal('exit') }).strict();
export const ErrorFrame = ErrorBody.extend({ type: z.literal('error') }).strict();
/** daemon → client: the last text frame. */
export const ServerControlFrame = z.discriminatedUnion('type', [ExitFrame, ErrorFrame]);

export type StartFrame = z.infer<typeof StartFrame>;
export type ExitFrame = z.infer<typeof ExitFrame>;
