/**
 * Listing a directory in a sandbox another host runs. The REST contract has no listing route, so
 * this asks that host's MCP endpoint (the same router, on its peer listener) for its `file_list`
 * tool, as the caller: one short session, the tool's error (a bkg error body) back as a BkgError.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { BkgError, MCP_ERROR_META } from '../../api/errors.js';
import { errorFromResponse } from '../../client/errors.js';
import { fetchOver } from '../../client/http.js';
import type { Principal } from '../auth/api-keys.js';
import type { FileEntry } from '../sandbox/files.js';
import type { Forwarder } from './forward.js';
import { errorOfFrame } from './remote-exec.js';

export async function listFilesRemote(f: Forwarder, hostId: string, p: Principal, sandboxId: string, path: string): Promise<FileEntry[]> {
  const t = await f.target(hostId);
  const fetch = fetchOver({ origin: t.origin, url: t.origin }, f.agent(t.origin)) as FetchLike;
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', t.origin), { fetch, requestInit: { headers: f.principalHeader(p) } });
  const client = new Client({ name: `bkg-forward-${f.selfId}`, version: '1' });
  try {
    await client.connect(transport);
    const r = await client.callTool({ name: 'file_list', arguments: { sandbox: sandboxId, path } });
    const meta = (r._meta as Record<string, unknown> | undefined)?.[MCP_ERROR_META];
    if (r.isError) throw errorOfFrame(typeof meta === 'object' && meta !== null ? (meta as Record<string, unknown>) : { message: JSON.stringify(r.content) });
    const entries = (r.structuredContent as { entries?: FileEntry[] } | undefined)?.entries;
    if (!Array.isArray(entries)) throw new BkgError('INTERNAL', `host ${hostId} answered file_list without entries`);
    return entries;
  } catch (err) {
    throw f.unreached(t, asBkgError(err));
  } finally {
    await transport.terminateSession().catch(() => {});
    await client.close().catch(() => {});
  }
}

/** The other host's refusal (an HTTP error answer, e.g. 401 for a key its copy has revoked) as its own BkgError; anything else did not reach it. */
function asBkgError(err: unknown): BkgError {
  if (err instanceof BkgError) return err;
  const status = err instanceof StreamableHTTPError ? (err.code ?? 0) : 0;
  if (err instanceof Error && status > 0) {
    const body = err.message.slice(err.message.indexOf('{'));
    return errorFromResponse(status, Buffer.from(body.startsWith('{') ? body : ''));
  }
  return new BkgError('DAEMON_UNAVAILABLE', err instanceof Error ? err.message : String(err), { cause: err });
}
