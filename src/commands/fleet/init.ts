import { randomBytes } from 'node:crypto';
import { Args, Flags } from '@oclif/core';
import { BkgError } from '../../api/errors.js';
import { BkgCommand } from '../../cli/base-command.js';

export default class FleetInit extends BkgCommand {
  static override summary = 'Prepare a Postgres database for a fleet: the roles daemons connect as, and the grants migrations need.';
  static override description = `Run once per fleet database (again is harmless) with an administrator's URL (a superuser, or a role with CREATEROLE).
It creates bkg_owner (owns the tables), bkg_fleet (fleet-wide work: replication, hosts, the fleet audit) and bkg_daemon,
the role every daemon connects as: it owns nothing, never bypasses row-level security, and reaches the other two only by
an explicit SET ROLE. Prints the URL daemons use (--sync); the password is made here unless you give one, and shown only now.
The daemons create and migrate the tables themselves when they start.`;

  static override examples = [
    '<%= config.bin %> fleet init postgres://postgres@db.internal:5432/bkg',
    '<%= config.bin %> fleet init postgres://admin:secret@db.internal/bkg --daemon-password "$(cat /run/secrets/bkg-db)"',
  ];

  static override args = { url: Args.string({ description: 'The fleet database, as its administrator (postgres://...).', required: true }) };
  static override flags = {
    'daemon-password': Flags.string({ description: 'bkg_daemon\'s password (default: a new random one).' }),
    'no-password': Flags.boolean({ description: 'Leave bkg_daemon\'s password as it is (certificate or trust authentication).', default: false }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(FleetInit);
    let url: URL;
    try {
      url = new URL(args.url);
    } catch {
      throw new BkgError('INVALID_ARGUMENT', 'URL: not a URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE)');
    }
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new BkgError('INVALID_ARGUMENT', `URL: must be a postgres:// URL, not ${url.protocol}//`);
    if (flags['no-password'] && flags['daemon-password'] !== undefined) throw new BkgError('INVALID_ARGUMENT', '--no-password and --daemon-password exclude each other');
    const password = flags['no-password'] ? undefined : (flags['daemon-password'] ?? randomBytes(24).toString('base64url'));
    const { initFleet } = await import('../../store/pg/index.js');
    await initFleet(args.url, password === undefined ? {} : { daemonPassword: password });
    const daemonUrl = new URL(url.toString());
    daemonUrl.username = 'bkg_daemon';
    daemonUrl.password = password === undefined ? '' : encodeURIComponent(password);
    this.output(flags.json, { daemon_url: daemonUrl.toString() }, () => {
      process.stderr.write('The fleet database is ready. Start every host of the fleet with this URL (the password is shown only now):\n');
      process.stdout.write(`${daemonUrl.toString()}\n`);
    });
  }
}
