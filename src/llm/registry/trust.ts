/** The Ed25519 keys model signatures are checked against: adding, listing and removing them. */
import { BkgError } from '../../api/errors.js';
import type { Logger } from '../../log.js';
import type { TrustedKeyRepository } from '../../store/repositories.js';
import { fingerprintOf, parsePublicKey } from './keys.js';
import type { TrustStore } from './types.js';

export function trustStore(keys: TrustedKeyRepository, log: Logger, now: () => Date): TrustStore {
  return {
    add: (name, publicKey) => {
      if (typeof name !== 'string' || !name.trim() || name.length > 128) throw new BkgError('INVALID_ARGUMENT', 'name: must be 1-128 characters', { details: { field: 'name' } });
      const raw = parsePublicKey(publicKey);
      const key = keys.ensure({ fingerprint: fingerprintOf(raw), name: name.trim(), public_key: raw.toString('base64'), created_at: now().toISOString() });
      log.info({ fingerprint: key.fingerprint, name: key.name }, 'trusted model signing key');
      return key;
    },
    list: () => keys.list(),
    remove: (fingerprint) => {
      if (!keys.delete(fingerprint)) throw new BkgError('NOT_FOUND', `no trusted key with fingerprint ${fingerprint}`, { details: { fingerprint } });
      log.info({ fingerprint }, 'untrusted model signing key');
    },
  };
}
