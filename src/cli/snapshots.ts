/** `bkg snapshot NAME`, `bkg snapshot ls|rm`, `bkg fork`: human renderings of snapshots and the one-line reports. */
import type { SnapshotView } from '../api/schema/snapshots.js';
import { ago, renderTable } from './format.js';

/** "12.3 MiB" */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  for (; v >= 1024 && i < units.length - 1; i++) v /= 1024;
  return `${v.toFixed(1)} ${units[i] ?? 'TiB'}`;
}

/** How to refer to a snapshot: SANDBOX:TAG when it has a tag, else its id. */
export function snapshotRef(s: SnapshotView): string {
  return s.tag === null ? s.id : `${s.sandbox}:${s.tag}`;
}

export function renderSnapshots(snaps: readonly SnapshotView[], now = Date.now()): string {
  if (snaps.length === 0) return 'No snapshots.\n';
  return renderTable(['ID', 'SANDBOX', 'TAG', 'NAMESPACE', 'SIZE', 'CREATED'], snaps.map((s) => [s.id, s.sandbox, s.tag ?? '-', s.namespace, bytes(s.size_bytes), ago(s.created_at, now)]));
}

export function renderSnapshotTaken(s: SnapshotView): string {
  return `Saved snapshot ${s.id}${s.tag === null ? '' : ` (${s.sandbox}:${s.tag})`} of sandbox ${s.sandbox}: ${bytes(s.size_bytes)}. Start from it: bkg run --from ${snapshotRef(s)} NAME\n`;
}
