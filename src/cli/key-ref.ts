/** A key named by id or by name, as `bkg key revoke|rotate` accept it. */
import { BkgError } from '../api/errors.js';
import type { DaemonClient } from '../client/daemon-client.js';

export async function keyIdOf(client: DaemonClient, ref: string): Promise<string> {
  if (/^key_[0-9A-Za-z]+$/.test(ref)) return ref;
  const keys = (await client.listKeys()).filter((k) => k.name === ref && k.revoked_at === null);
  if (keys.length === 1) return (keys[0] as { id: string }).id;
  if (keys.length === 0) throw new BkgError('NOT_FOUND', `no API key named "${ref}" that is not revoked`, { hint: '`bkg key ls` lists the keys with their ids and names.' });
  throw new BkgError('INVALID_ARGUMENT', `${keys.length} keys are named "${ref}": ${keys.map((k) => k.id).join(', ')}`, { hint: 'Pass the id of the one you mean.' });
}
