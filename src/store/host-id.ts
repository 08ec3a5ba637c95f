/**
 * This host's id in a fleet: made once, kept in sync_state, the same across restarts. Rows the
 * host made before it had one (host '') are claimed for it.
 */
import type { Db } from './db.js';
import { newId } from './ids.js';

export function claimHostId(db: Db): string {
  return db.transaction((): string => {
    db.prepare("INSERT INTO sync_state (key, value) VALUES ('host_id', ?) ON CONFLICT (key) DO NOTHING").run(newId('host'));
    const { value } = db.prepare("SELECT value FROM sync_state WHERE key = 'host_id'").get() as { value: string };
    db.prepare("UPDATE sandboxes SET host = ? WHERE host = ''").run(value);
    db.prepare("UPDATE api_keys SET origin_host = ? WHERE origin_host = ''").run(value);
    return value;
  }).immediate();
}
