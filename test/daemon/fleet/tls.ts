/** Test helpers for the fleet's mutual TLS: a CA and host certificates in a temp dir (through src/cli/ca.ts), and raw TLS clients. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { caInit, caIssue } from '../../../src/cli/ca.js';

export interface HostFiles {
  cert: string;
  key: string;
  ca: string;
}

/** A CA in DIR/ca with host certificates for `names` (loopback SANs) in DIR/certs. */
export async function makeCa(names: string[], dir = mkdtempSync(join(tmpdir(), 'bkg-ca-'))): Promise<{ dir: string; hosts: Record<string, HostFiles> }> {
  const ca = await caInit({ dir: join(dir, 'ca') });
  const hosts: Record<string, HostFiles> = {};
  for (const name of names) {
    const r = await caIssue({ name, dir: join(dir, 'ca'), out: join(dir, 'certs') });
    hosts[name] = { cert: r.cert, key: r.key, ca: ca.cert };
  }
  return { dir, hosts };
}

/** The daemon settings of a host's peer listener. */
export function peerEnv(files: HostFiles, port: number): Record<string, string> {
  return { BKG_PEER_PORT: String(port), BKG_TLS_CERT: files.cert, BKG_TLS_KEY: files.key, BKG_TLS_CA: files.ca };
}

export interface TlsAnswer {
  status?: number;
  body?: unknown;
  /** Set when no HTTP answer came (handshake refused, connection reset). */
  error?: string;
}

/** One HTTPS request to 127.0.0.1:port, with the client certificate of `client` (or none), trusting `trust`'s CA. */
export function tlsGet(port: number, path: string, opts: { client?: HostFiles; trust: HostFiles; headers?: Record<string, string> }): Promise<TlsAnswer> {
  return new Promise((resolve) => {
    const req = request({
      host: '127.0.0.1', port, path, method: 'GET', agent: false, headers: opts.headers ?? {},
      ca: readFileSync(opts.trust.ca), ...(opts.client ? { cert: readFileSync(opts.client.cert), key: readFileSync(opts.client.key) } : {}),
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks).toString();
        let body: unknown = raw;
        try {
          body = JSON.parse(raw);
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end();
  });
}
