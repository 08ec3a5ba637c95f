/** The doctor's last check: one small sandbox run end to end, under every limit the host can enforce. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BkgError } from '../../api/errors.js';
import { formatBytes } from '../../api/units.js';
import { usableControllers } from '../cgroups.js';
import { newSandboxId, type SandboxDefinition } from '../definition.js';
import type { Limits } from '../limits.js';
import { describeError, type DoctorCheck, type DoctorContext } from './probes.js';

export const PROBE_LIMITS: Required<Omit<Limits, 'idleTimeoutMs'>> = {
  memoryBytes: 64 << 20,
  cpus: 0.5,
  pids: 32,
  diskBytes: 16 << 20,
  timeoutMs: 10_000,
};

function oneLine(text: string, max = 300): string {
  const t = text.trim().replace(/\s*\n\s*/g, ' | ');
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

export async function checkSandbox(ctx: DoctorContext): Promise<DoctorCheck> {
  const base = { id: 'sandbox', title: 'End-to-end sandbox' };
  const usable = usableControllers(ctx.host.cgroups);
  const limits: Limits = { diskBytes: PROBE_LIMITS.diskBytes, timeoutMs: PROBE_LIMITS.timeoutMs };
  const skipped: string[] = [];
  if (usable.has('memory')) limits.memoryBytes = PROBE_LIMITS.memoryBytes;
  else skipped.push('memory');
  if (usable.has('cpu')) limits.cpus = PROBE_LIMITS.cpus;
  else skipped.push('cpus');
  if (usable.has('pids')) limits.pids = PROBE_LIMITS.pids;
  else skipped.push('pids');
  const described = [
    limits.memoryBytes !== undefined ? `memory ${formatBytes(limits.memoryBytes)}` : null,
    limits.cpus !== undefined ? `cpus ${limits.cpus}` : null,
    limits.pids !== undefined ? `pids ${limits.pids}` : null,
    `disk ${formatBytes(PROBE_LIMITS.diskBytes)}`,
    'network none',
  ].filter((s): s is string => s !== null);
  const without = skipped.length > 0 ? `; without ${skipped.join(', ')} limits (controller unusable, see above)` : '';

  let workspace: string | null = null;
  const started = performance.now();
  const elapsed = (): string => `${Math.round(performance.now() - started)} ms`;
  try {
    workspace = mkdtempSync(join(tmpdir(), 'bkg-doctor-'));
    const def: SandboxDefinition = {
      id: newSandboxId(),
      argv: ['/bin/sh', '-c', 'echo probe > /workspace/p && cat /workspace/p'],
      limits,
      network: 'none',
      workspace,
    };
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const r = await ctx.runtime.run(def, { stdio: ['ignore', 'pipe', 'pipe'], onStdout: (c) => out.push(c), onStderr: (c) => err.push(c) });
    const took = elapsed();
    const stdout = Buffer.concat(out).toString('utf8').trim();
    const stderr = Buffer.concat(err).toString('utf8');
    const sawChange = r.changes.some((c) => c.path === 'p' && c.kind === 'added');
    if (r.exitCode === 0 && stdout === 'probe' && sawChange) {
      return { ...base, status: 'ok', detail: `ran /bin/sh in a sandbox with a copy-on-write /workspace (${described.join(', ')}) in ${took}${without}` };
    }
    const why: string[] = [];
    if (r.execError) why.push(`cannot run /bin/sh: ${r.execError}`);
    if (r.timedOut) why.push(`timed out after ${PROBE_LIMITS.timeoutMs} ms`);
    if (r.oomKilled) why.push('killed for running out of memory');
    if (r.exitCode !== 0) why.push(r.exitCode === null ? `killed by signal ${r.signal ?? '?'}` : `exit code ${r.exitCode}`);
    else if (stdout !== 'probe') why.push(`unexpected output ${JSON.stringify(stdout.slice(0, 80))}`);
    else if (!sawChange) why.push('the write to /workspace/p was not reported as a workspace change');
    if (stderr.trim()) why.push(`stderr: ${oneLine(stderr)}`);
    return {
      ...base,
      status: 'fail',
      detail: `the probe sandbox failed after ${took}: ${why.join('; ')}`,
      fix: 'Fix the failing checks above; if they all pass, rerun with BKG_LOG_LEVEL=debug and report the output.',
    };
  } catch (e) {
    const took = elapsed();
    if (e instanceof BkgError) return { ...base, status: 'fail', detail: `${e.code}: ${e.message} (after ${took})`, fix: e.hint };
    return { ...base, status: 'fail', detail: `the probe sandbox failed after ${took}: ${describeError(e)}`, fix: 'Fix the failing checks above, then rerun `bkg doctor`.' };
  } finally {
    if (workspace !== null) {
      try {
        rmSync(workspace, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
    }
  }
}
