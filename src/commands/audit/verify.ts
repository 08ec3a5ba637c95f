import { BkgError } from '../../api/errors.js';
import { DaemonCommand } from '../../cli/daemon-command.js';

export default class AuditVerify extends DaemonCommand {
  static override summary = 'Check the audit log\'s hash chain: every row unedited, none deleted or reordered.';
  static override description = 'Exits 0 when the chain is intact; otherwise AUDIT_TAMPERED (exit 6) naming the first broken row.';
  static override examples = ['<%= config.bin %> audit verify', '<%= config.bin %> audit verify --json'];

  async run(): Promise<void> {
    const { flags } = await this.parse(AuditVerify);
    const r = await this.withClient((c) => c.verifyAudit());
    if (!r.ok) {
      throw new BkgError('AUDIT_TAMPERED', `the audit log is broken at row ${r.seq}: ${r.reason} (${r.count} rows before it verified)`, {
        details: { seq: r.seq, count: r.count, reason: r.reason },
      });
    }
    this.output(flags.json, r, () => process.stdout.write(`The audit log is intact: ${r.count} events verified.\n`));
  }
}
