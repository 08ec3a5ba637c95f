import { Args, Flags } from '@oclif/core';
import { BkgError } from '../../api/errors.js';
import { NAME_PATTERN } from '../../api/sandboxes.js';
import { DaemonCommand } from '../../cli/daemon-command.js';
import { ROLES, type Role } from '../../api/names.js';

export default class KeyCreate extends DaemonCommand {
  static override summary = 'Create an API key (the secret is printed once, never again).';
  static override description = `admin: everything; namespace: sandboxes of one namespace (--namespace); readonly: look, never change.
Clients send it as \`Authorization: Bearer <secret>\`; the bkg CLI reads it from BKG_API_KEY (with BKG_API_URL).`;

  static override examples = [
    '<%= config.bin %> key create ci --role namespace --namespace ci',
    '<%= config.bin %> key create dashboard --role readonly --json',
  ];

  static override args = { name: Args.string({ description: 'A name to recognise the key by.', required: true }) };
  static override flags = {
    role: Flags.string({ description: 'What the key may do.', options: [...ROLES], required: true }),
    namespace: Flags.string({ description: 'The namespace a namespace key acts in.' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(KeyCreate);
    const role = flags.role as Role;
    if (role === 'namespace' && !flags.namespace) throw new BkgError('INVALID_ARGUMENT', '--namespace: required with --role namespace');
    if (flags.namespace !== undefined && !NAME_PATTERN.test(flags.namespace)) throw new BkgError('INVALID_ARGUMENT', `--namespace: "${flags.namespace}" must match ${NAME_PATTERN.source}`);
    const created = await this.withClient((c) => c.createKey({ name: args.name, role, ...(flags.namespace ? { namespace: flags.namespace } : {}) }));
    this.output(flags.json, created, () => {
      const k = created.key;
      process.stderr.write(`Created ${k.role} key ${k.id} (${k.name}${k.namespace ? `, namespace ${k.namespace}` : ''}). Its secret, shown only now:\n`);
      process.stdout.write(`${created.secret}\n`);
    });
  }
}
