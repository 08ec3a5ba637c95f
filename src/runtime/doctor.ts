/**
 * `bkg doctor`: probe the host for everything a sandbox needs and say, for each thing that does
 * not work, how to fix the host. Every probe is independent and none throws out of runDoctor.
 * The probes are in doctor/: the host (host-checks.ts), the cgroups (cgroup-checks.ts) and an
 * end-to-end sandbox (sandbox-check.ts); src/commands/doctor.ts renders the report.
 */
import { checkCgroupVersion, checkController } from './doctor/cgroup-checks.js';
import { checkHelper, checkOverlay, checkPlatform, checkSeccomp, checkUserns } from './doctor/host-checks.js';
import { checkRootless } from './doctor/rootless-check.js';
import { defaultProbes, describeError, type DoctorCheck, type DoctorContext, type DoctorProbes } from './doctor/probes.js';
import { checkSandbox } from './doctor/sandbox-check.js';

export type { DoctorCheck, DoctorContext, DoctorProbes, DoctorStatus } from './doctor/probes.js';
export { parseKernelVersion } from './doctor/host-checks.js';
export { PROBE_LIMITS } from './doctor/sandbox-check.js';

export interface DoctorReport {
  ok: boolean;
  checks: DoctorCheck[];
}

/** Run a probe; a probe that throws becomes a failed check rather than aborting the report. */
function guard(id: string, title: string, probe: () => DoctorCheck | DoctorCheck[]): DoctorCheck[] {
  try {
    const r = probe();
    return Array.isArray(r) ? r : [r];
  } catch (e) {
    return [{ id, title, status: 'fail', detail: `the probe itself failed: ${describeError(e)}`, fix: 'This is a bug in bkg doctor; please report it.' }];
  }
}

export async function runDoctor(ctx: DoctorContext, probes: Partial<DoctorProbes> = {}): Promise<DoctorReport> {
  const p: DoctorProbes = { ...defaultProbes(), ...probes };
  const { host } = ctx;
  const checks: DoctorCheck[] = [
    ...guard('platform', 'Platform', () => checkPlatform(p)),
    ...guard('helper', 'Sandbox helper', () => checkHelper(host)),
    ...guard('userns', 'User namespaces', () => checkUserns(host, p)),
    ...guard('overlayfs', 'overlayfs', () => checkOverlay(host, p)),
    ...guard('seccomp', 'seccomp filters', () => checkSeccomp(p)),
    ...guard('cgroups', 'cgroups', () => checkCgroupVersion(host.cgroups, p)),
  ];
  for (const c of ['memory', 'cpu', 'pids'] as const) checks.push(...guard(`cgroup-${c}`, `cgroup ${c} controller`, () => checkController(host.cgroups, c)));
  checks.push(...guard('rootless', 'Rootless', () => checkRootless(host)));
  if (p.sandbox) {
    try {
      checks.push(await checkSandbox(ctx));
    } catch (e) {
      checks.push({ id: 'sandbox', title: 'End-to-end sandbox', status: 'fail', detail: `the probe itself failed: ${describeError(e)}` });
    }
  }
  return { ok: checks.every((c) => c.status !== 'fail'), checks };
}
