/** The secrets routes over the typed client: the sealing key, set (a sealed box only), list (names), remove. */
import type { SecretPublicKey, SecretView } from '../api/secrets.js';
import type { DaemonClient } from './daemon-client.js';

export function secretPublicKey(c: DaemonClient): Promise<SecretPublicKey> {
  return c.request('secretPublicKey', {});
}

/** `sealed`: the value as a sealed box to secretPublicKey(), base64. */
export function setSecret(c: DaemonClient, name: string, sealed: string, namespace?: string): Promise<SecretView> {
  return c.request('setSecret', { params: { name }, body: { sealed, ...(namespace === undefined ? {} : { namespace }) } });
}

/** The key's namespace's secrets (admins: every namespace's, or `namespace`'s). */
export async function listSecrets(c: DaemonClient, namespace?: string): Promise<SecretView[]> {
  return (await c.request('listSecrets', { query: namespace === undefined ? {} : { namespace } })).secrets;
}

export async function removeSecret(c: DaemonClient, name: string, namespace?: string): Promise<void> {
  await c.request('deleteSecret', { params: { name }, query: namespace === undefined ? {} : { namespace } });
}
