/**
 * Building blocks of the wire contract (zod, the `zod/v4` line): names, environments, limits, the
 * error body. Request objects are strict (an unknown field is an error); response objects are
 * strict too, so a route test that receives an undeclared field fails.
 */
import { z } from 'zod/v4';
import { ERRORS } from '../errors.js';
import { ENV_NAME_PATTERN, NAME_PATTERN } from '../names.js';

export { z };

/** A sandbox, project or namespace name. */
export const Name = z.string().regex(NAME_PATTERN);
export const Timestamp = z.string().describe('An ISO-8601 time (UTC).');
export const NullableTimestamp = Timestamp.nullable();

/** Environment variables: names as POSIX shells take them, values up to 32 KiB. */
export const Env = z.record(z.string().regex(ENV_NAME_PATTERN, 'is not a valid variable name'), z.string().max(32_768));

export const ErrorCode = z.enum(Object.keys(ERRORS) as [keyof typeof ERRORS, ...(keyof typeof ERRORS)[]]);

/** Every error answer (REST, MCP structuredContent, CLI --json). */
export const ErrorBody = z.object({
  error: z.object({
    code: ErrorCode,
    message: z.string(),
    hint: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
    trace_id: z.string().regex(/^[0-9a-f]{32}$/).optional().describe('The request\'s trace (OpenTelemetry), when the daemon exports traces and kept this one.'),
  }).strict(),
}).strict();

/** Limits in the API's units (MiB, cores, seconds). */
export const Limits = z.object({
  memory_mb: z.int().min(16).max(1_048_576).optional().describe('Memory (RAM, no swap), in MiB.'),
  cpus: z.number().min(0.01).max(1024).optional().describe('CPU time, in cores (0.5 = half a core).'),
  pids: z.int().min(1).max(4_194_304).optional().describe('Processes and threads.'),
  disk_mb: z.int().min(1).max(4_194_304).optional().describe('Writable space (workspace changes, /tmp, /dev/shm, HOME), in MiB.'),
  timeout_s: z.int().min(1).max(30 * 86_400).optional().describe('Lifetime: stopped this many seconds after it starts.'),
  idle_timeout_s: z.int().min(1).max(30 * 86_400).optional().describe('Stopped after this many seconds without an exec.'),
}).strict();

/** An empty JSON object (bodies of POSTs that take none are absent or {}). */
export const Empty = z.object({}).strict();
