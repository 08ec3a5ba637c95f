/** Test helpers: a real sandbox engine over the real helper, and a skip rule for kernel-dependent tests. */
import { existsSync, readFileSync } from 'node:fs';
import { createLogger } from '../../src/log.js';
import { newSandboxId, type SandboxDefinition } from '../../src/runtime/definition.js';
import { detectHost, type HostInfo } from '../../src/runtime/host.js';
import { withDefaults, type Limits } from '../../src/runtime/limits.js';
import { SandboxEngine, type RunOptions, type RunResult } from '../../src/runtime/engine.js';

export interface Captured extends RunResult {
  stdout: string;
  stderr: string;
}

/** Why sandboxes cannot run here, or null. Under CI=true nothing may skip. */
export function sandboxSkipReason(): string | null {
  let reason: string | null = null;
  if (process.platform !== 'linux' || process.arch !== 'x64') reason = 'sandboxes need Linux x86_64';
  else if (!existsSync('/proc/sys/user/max_user_namespaces') || readFileSync('/proc/sys/user/max_user_namespaces', 'utf8').trim() === '0') reason = 'user namespaces are disabled';
  else if (!readFileSync('/proc/filesystems', 'utf8').includes('overlay')) reason = 'overlayfs is not available';
  if (reason && process.env.CI === 'true') throw new Error(`CI=true but ${reason}: kernel-dependent tests may not skip in CI`);
  if (reason) console.warn(`skipping sandbox tests: ${reason}`);
  return reason;
}

export function makeRuntime(host: HostInfo = detectHost()): { host: HostInfo; runtime: SandboxEngine } {
  return { host, runtime: new SandboxEngine({ host, log: createLogger({ level: 'silent' }) }) };
}

export async function runIn(
  runtime: SandboxEngine,
  argv: string[],
  opts: { limits?: Limits; workspace?: string; network?: 'none' | 'host'; input?: string; env?: Record<string, string>; run?: RunOptions; id?: string } = {},
): Promise<Captured> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const def: SandboxDefinition = {
    id: opts.id ?? newSandboxId(),
    argv,
    limits: withDefaults(opts.limits ?? {}),
    network: opts.network ?? 'none',
    ...(opts.workspace ? { workspace: opts.workspace } : {}),
    ...(opts.env ? { env: opts.env } : {}),
  };
  const r = await runtime.run(
    def,
    { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], input: opts.input, onStdout: (c) => out.push(c), onStderr: (c) => err.push(c) },
    opts.run,
  );
  return { ...r, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

export const sh = (runtime: SandboxEngine, script: string, opts: Parameters<typeof runIn>[2] = {}): Promise<Captured> =>
  runIn(runtime, ['/bin/sh', '-c', script], opts);

export const py = (runtime: SandboxEngine, code: string, opts: Parameters<typeof runIn>[2] = {}): Promise<Captured> =>
  runIn(runtime, ['/usr/bin/python3', '-c', code], opts);
