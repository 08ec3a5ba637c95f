/** What a reader of the event stream asked for: `?types=` (exact types, or prefixes such as `sandbox.*`) and where to start (`?since=`, Last-Event-ID). */
import { BkgError } from '../../api/errors.js';
import { EVENT_TYPES, type EventType } from '../../api/schema/events.js';

/** The event types `?types=` names (all of them when absent); INVALID_ARGUMENT naming the first unknown one. */
export function parseTypes(raw: string | undefined): ReadonlySet<EventType> {
  if (raw === undefined || raw.trim() === '' || raw.trim() === '*') return new Set(EVENT_TYPES);
  const out = new Set<EventType>();
  for (const item of raw.split(',').map((t) => t.trim()).filter(Boolean)) {
    const matched = item.endsWith('.*') ? EVENT_TYPES.filter((t) => t.startsWith(item.slice(0, -1))) : EVENT_TYPES.filter((t) => t === item);
    if (matched.length === 0) {
      throw new BkgError('INVALID_ARGUMENT', `types: "${item}" is not an event type (one of ${EVENT_TYPES.join(', ')}, or a prefix such as sandbox.*)`, { details: { field: 'types' } });
    }
    for (const t of matched) out.add(t);
  }
  return out;
}

/** The id to replay after: `?since=`, else the Last-Event-ID header of a reconnecting EventSource. */
export function parseSince(query: string | undefined, lastEventId: string | string[] | undefined): number | undefined {
  const raw = query ?? (typeof lastEventId === 'string' && lastEventId.trim() !== '' ? lastEventId.trim() : undefined);
  if (raw === undefined) return undefined;
  if (!/^\d{1,15}$/.test(raw)) throw new BkgError('INVALID_ARGUMENT', `${query === undefined ? 'Last-Event-ID' : 'since'}: "${raw}" is not an event id`, { details: { field: query === undefined ? 'Last-Event-ID' : 'since' } });
  return Number(raw);
}
