/**
 * Snapshots (/api/v1/snapshots, /api/v1/sandboxes/{id}/snapshots and /fork): a sandbox's writable
 * layer saved at one moment, per namespace, kept when the sandbox is deleted; new sandboxes start from it.
 */
import { Name, Timestamp, z } from './common.js';

/** A tag names one snapshot of a sandbox: `NAME:TAG` refers to it. */
export const SnapshotTag = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'is not a valid tag (letters, digits, . _ -; at most 63)');

export const SnapshotView = z.object({
  id: z.string().describe('snap_…: refers to it, as does SANDBOX:TAG.'),
  namespace: z.string(),
  sandbox: z.string().describe('The origin\'s name when it was taken (the origin may have been deleted since).'),
  sandbox_id: z.string(),
  tag: z.string().nullable(),
  size_bytes: z.int().min(0).describe('The bytes of its files (hard links to unchanged saved files are counted, though they cost no new disk).'),
  created_at: Timestamp,
  created_by: z.string().describe('The key that took it.'),
}).strict();

export const CreateSnapshotRequest = z.object({ tag: SnapshotTag.optional() }).strict();

export const ForkRequest = z.object({
  name: Name.describe('The new sandbox: the origin\'s settings, started from a snapshot of it taken now (and running if the origin runs).'),
  tag: SnapshotTag.optional().describe('Tag the snapshot the fork starts from (default: untagged).'),
}).strict();

export const SnapshotList = z.object({ snapshots: z.array(SnapshotView) }).strict();
export const SnapshotParams = z.object({ ref: z.string().min(1).max(200).describe('The snapshot\'s id, or SANDBOX:TAG.') }).strict();
export const SnapshotQuery = z.object({ namespace: Name.optional().describe('Admin keys: one namespace (default: every namespace). Other keys see their own.') }).strict();

export type SnapshotView = z.infer<typeof SnapshotView>;
export type CreateSnapshotRequest = z.infer<typeof CreateSnapshotRequest>;
export type ForkRequest = z.infer<typeof ForkRequest>;
