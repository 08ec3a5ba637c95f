/**
 * Binding the daemon's listeners: the unix socket (owner-only from the moment it exists, after
 * removing a stale socket file that nothing answers on) and the loopback-only TCP port (any
 * address only for the mutual-TLS peer listener).
 */
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { connect, type Server } from 'node:net';
import { dirname } from 'node:path';
import { BkgError } from '../../api/errors.js';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
const PROBE_TIMEOUT_MS = 1000;

/** Whether something accepts connections on the unix socket at `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    const finish = (alive: boolean, err?: Error) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(alive);
    };
    const timer = setTimeout(() => finish(true), PROBE_TIMEOUT_MS);
    sock.once('connect', () => finish(true));
    sock.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') finish(false);
      else if (err.code === 'EAGAIN') finish(true);
      else finish(false, err);
    });
  });
}

async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!isSocket) {
    throw new BkgError('INVALID_CONFIG', `${path} exists and is not a socket`, { hint: 'Move that file away, or set BKG_HOME to another directory.' });
  }
  if (await answers(path)) {
    throw new BkgError('CONFLICT', `another process (a running bkg daemon?) is listening on ${path}`, { hint: 'Stop the running daemon first.' });
  }
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

function listening(server: Server, bind: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    bind();
  });
}

/** The umask is process-wide, so it is narrowed only around the synchronous bind inside listen(). */
function withUmask(mask: number, fn: () => void): void {
  let previous: number | undefined;
  try {
    previous = process.umask(mask);
  } catch {
    // process.umask is unavailable in worker threads: the chmod after listen still applies.
  }
  try {
    fn();
  } finally {
    if (previous !== undefined) process.umask(previous);
  }
}

export async function listenUnix(server: Server, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await removeStaleSocket(path);
  await listening(server, () => withUmask(0o177, () => server.listen(path)));
  await chmod(path, 0o600);
}

/** Listen on host:port (port 0: an ephemeral port); returns the bound port. Loopback only, unless `anyAddress` (mutual TLS only). */
export async function listenTcp(server: Server, host: string, port: number, opts: { anyAddress?: boolean } = {}): Promise<number> {
  if (!opts.anyAddress && !LOOPBACK.has(host)) {
    throw new BkgError('INVALID_CONFIG', `the daemon's TCP listener must be on loopback, not ${host}`);
  }
  try {
    await listening(server, () => server.listen({ host, port, exclusive: true }));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      const hint = opts.anyAddress ? 'Stop the process using it, or set BKG_PEER_PORT to another port.' : 'Stop the process using it, or set BKG_PORT to another port (0 disables TCP).';
      throw new BkgError('CONFLICT', `${host}:${port} is already in use`, { hint, cause: err });
    }
    throw err;
  }
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('TCP listener has no port');
  return address.port;
}
