/** LISTEN for pushes on a dedicated connection (not the pool's): each notification carries the last seq of a push. */
import pg from 'pg';
import { clientConfig, mapError } from './connection.js';
import { CHANGES_CHANNEL } from './tables.js';

export interface Listener {
  close(): Promise<void>;
}

/** `onError` is called once when the connection fails or ends unasked; the caller listens again. */
export async function listen(url: string, name: string, onNotify: (seq: string) => void, onError: (err: unknown) => void): Promise<Listener> {
  const client = new pg.Client(clientConfig(url, name));
  let closing = false;
  let failed = false;
  const fail = (err: unknown) => {
    if (closing || failed) return;
    failed = true;
    onError(mapError(err, 'listening'));
  };
  client.on('error', fail);
  client.on('end', () => fail(new Error('Connection terminated: the listening connection ended')));
  client.on('notification', (m) => {
    if (m.channel === CHANGES_CHANNEL && m.payload) onNotify(m.payload);
  });
  try {
    await client.connect();
    await client.query(`LISTEN ${CHANGES_CHANNEL}`);
  } catch (err) {
    closing = true;
    await client.end().catch(() => {});
    throw mapError(err, 'listening');
  }
  return {
    async close() {
      if (closing) return;
      closing = true;
      await client.end().catch(() => {});
    },
  };
}
