import { BkgCommand } from '../cli/base-command.js';
import { createCliContext } from '../cli/context.js';
import { runDoctor, type DoctorCheck, type DoctorReport } from '../runtime/doctor.js';

const MARK: Record<DoctorCheck['status'], string> = { ok: '✓', warn: '!', fail: '✗' };

/** Exit code when a check fails: the same as ISOLATION_UNAVAILABLE and friends. */
export const EXIT_DOCTOR_FAILED = 3;

export function renderDoctor(report: DoctorReport): string {
  const lines: string[] = [];
  for (const c of report.checks) {
    lines.push(`${MARK[c.status]} ${c.title}: ${c.detail}`);
    if (c.status !== 'ok' && c.fix) lines.push(`    fix: ${c.fix}`);
  }
  const failed = report.checks.filter((c) => c.status === 'fail').length;
  const warned = report.checks.filter((c) => c.status === 'warn').length;
  const warnings = warned > 0 ? ` (${warned} warning${warned === 1 ? '' : 's'})` : '';
  lines.push('');
  lines.push(
    failed === 0
      ? `bkg can run sandboxes on this host: ${report.checks.length - warned} of ${report.checks.length} checks passed${warnings}.`
      : `bkg cannot run sandboxes as configured: ${failed} of ${report.checks.length} checks failed${warnings}; apply the fixes above and rerun \`bkg doctor\`.`,
  );
  return `${lines.join('\n')}\n`;
}

export default class Doctor extends BkgCommand {
  static override summary = 'Check that this host can run bkg sandboxes, and say how to fix it when not.';
  static override description =
    'Probes the platform, the sandbox helper, user namespaces, overlayfs, seccomp and the cgroup controllers, then runs a small ' +
    'end-to-end sandbox. Prints one line per check and, for each check that does not pass, how to fix the host. ' +
    'Exits 0 when every check passes (warnings allowed), 3 otherwise.';

  static override examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --json'];

  static override flags = {};

  async run(): Promise<void> {
    const { flags } = await this.parse(Doctor);
    const ctx = createCliContext();
    const report = await runDoctor(ctx);
    this.output(flags.json, { ok: report.ok, checks: report.checks }, () => process.stdout.write(renderDoctor(report)));
    process.exitCode = report.ok ? 0 : EXIT_DOCTOR_FAILED;
  }
}
