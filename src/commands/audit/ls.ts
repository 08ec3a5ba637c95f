import { Flags } from '@oclif/core';
import { BkgError } from '../../api/errors.js';
import { parseDuration, parsePositiveInt } from '../../api/units.js';
import { DaemonCommand } from '../../cli/daemon-command.js';
import { renderTable } from '../../cli/format.js';
import type { AuditEventView } from '../../client/types.js';

/** --since: a duration back from now (1h, 30m) or an ISO time; checked here, resolved by the daemon. */
export function checkSince(since: string): string {
  if (/^\d+(\.\d+)?(ms|s|m|h)$/.test(since)) {
    parseDuration(since, '--since');
    return since;
  }
  if (!/^\d{4}-\d{2}-\d{2}/.test(since) || Number.isNaN(Date.parse(since))) {
    throw new BkgError('INVALID_ARGUMENT', `--since: "${since}" is neither an ISO time (2024-05-01T12:00:00Z) nor a duration (1h, 30m)`);
  }
  return since;
}

export function renderAudit(events: AuditEventView[]): string {
  const hosts = events.some((e) => e.host !== undefined);
  return renderTable(
    [...(hosts ? ['HOST'] : []), 'SEQ', 'AT', 'ACTOR', 'ACTION', 'TARGET', 'OUTCOME'],
    events.map((e) => [...(hosts ? [e.host ?? '-'] : []), String(e.seq), e.at, e.actor, e.action, e.target ?? '-', e.outcome]),
  );
}

export default class AuditLs extends DaemonCommand {
  static override summary = 'List audit log events, oldest first.';
  static override examples = ['<%= config.bin %> audit ls --since 1h', '<%= config.bin %> audit ls --since 2024-05-01T00:00:00Z --limit 100 --json', '<%= config.bin %> audit ls --fleet --since 10m'];
  static override flags = {
    since: Flags.string({ description: 'Only events since this ISO time, or this long ago (1h, 30m).' }),
    limit: Flags.string({ description: 'At most this many events.' }),
    fleet: Flags.boolean({ description: 'Every host\'s events, from the fleet database (with a HOST column).', default: false }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(AuditLs);
    const query = {
      ...(flags.since === undefined ? {} : { since: checkSince(flags.since) }),
      ...(flags.limit === undefined ? {} : { limit: parsePositiveInt(flags.limit, '--limit', 999_999) }),
      ...(flags.fleet ? { fleet: true } : {}),
    };
    const events = await this.withClient((c) => c.auditEvents(query));
    this.output(flags.json, { events }, () => process.stdout.write(renderAudit(events)));
  }
}
