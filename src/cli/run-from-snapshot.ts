/** `bkg run --from SNAPSHOT NAME [flags] [-- CMD]`: a new daemon sandbox NAME started from a snapshot, then CMD in it (as `bkg exec`). */
import { readFile } from 'node:fs/promises';
import { BkgError } from '../api/errors.js';
import type { DaemonClient } from '../client/daemon-client.js';
import { execCommand } from './exec-command.js';
import { requestFromFlags, type SandboxFlags } from './sandbox-request.js';

export interface RunFromOptions {
  from: string;
  name: string | undefined;
  cmd: string[];
  flags: SandboxFlags;
  json: boolean;
}

export async function runFromSnapshot(client: DaemonClient, o: RunFromOptions): Promise<number> {
  if (o.name === undefined) {
    throw new BkgError('INVALID_ARGUMENT', '--from needs the new sandbox\'s NAME', { hint: `bkg run --from ${o.from} NAME [-- CMD]`, details: { field: 'name' } });
  }
  const { seccomp, ...req } = requestFromFlags(o.flags);
  const profile = seccomp === undefined ? {} : { seccomp: JSON.parse(await readFile(seccomp, 'utf8')) as Record<string, unknown> };
  await client.createSandbox({ ...req, ...profile, name: o.name, from_snapshot: o.from });
  const started = await client.startSandbox(o.name);
  if (o.cmd.length) return execCommand(client, { name: o.name, cmd: o.cmd, json: o.json });
  if (o.json) process.stdout.write(`${JSON.stringify(started, null, 2)}\n`);
  else process.stderr.write(`Started ${o.name} (${started.id}) from snapshot ${o.from}.\n`);
  return 0;
}
