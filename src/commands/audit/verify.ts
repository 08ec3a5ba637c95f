import { Flags } from '@oclif/core';
import { BkgError } from '../../api/errors.js';
import { DaemonCommand } from '../../cli/daemon-command.js';

export default class AuditVerify extends DaemonCommand {
  static override summary = 'Check the audit log\'s hash chain: every row unedited, none deleted or reordered.';
  static override description = `Exits 0 when the chain is intact; otherwise AUDIT_TAMPERED (exit 6) naming the first broken row.
With --fleet, every host's chain as the fleet database holds it (a host in a fleet pushes its own chain there).`;
  static override examples = ['<%= config.bin %> audit verify', '<%= config.bin %> audit verify --fleet', '<%= config.bin %> audit verify --json'];
  static override flags = {
    fleet: Flags.boolean({ description: 'Verify every host\'s chain from the fleet database.', default: false }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(AuditVerify);
    const r = await this.withClient((c) => c.verifyAudit({ fleet: flags.fleet }));
    if ('fleet' in r) {
      const broken = r.hosts.find((h) => !h.ok);
      if (broken) {
        throw new BkgError('AUDIT_TAMPERED', `the audit chain of host ${broken.host} is broken at row ${broken.seq ?? '?'}: ${broken.reason ?? 'unknown'} (${broken.count} rows before it verified)`, {
          details: { host: broken.host, seq: broken.seq, count: broken.count, reason: broken.reason },
        });
      }
      this.output(flags.json, r, () => {
        for (const h of r.hosts) process.stdout.write(`${h.host}: intact, ${h.count} events verified\n`);
        process.stdout.write(`The fleet's audit log is intact: ${r.hosts.length} host(s).\n`);
      });
      return;
    }
    if (!r.ok) {
      throw new BkgError('AUDIT_TAMPERED', `the audit log is broken at row ${r.seq}: ${r.reason} (${r.count} rows before it verified)`, {
        details: { seq: r.seq, count: r.count, reason: r.reason },
      });
    }
    this.output(flags.json, r, () => process.stdout.write(`The audit log is intact: ${r.count} events verified.\n`));
  }
}
