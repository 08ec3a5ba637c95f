import { Args, Flags } from '@oclif/core';
import { DaemonCommand } from '../../cli/daemon-command.js';
import { policyPatch, renderPolicy } from '../../cli/policy.js';

export default class PolicySet extends DaemonCommand {
  static override summary = 'Change a namespace\'s policy: the privileges its keys may use and its quotas (admin only).';
  static override description = `Only the settings given change; --reset starts from the defaults. Sizes take k/m/g suffixes
(whole MiB), and every max takes "unlimited". A privilege the policy does not grant is refused
with 403 FORBIDDEN naming it; a quota that would be passed with 403 QUOTA_EXCEEDED naming it.
Lowering a policy never touches running sandboxes; it applies to the next create, start or apply.`;

  static override examples = [
    '<%= config.bin %> policy set ci --max-sandboxes 50 --max-total-memory 32g',
    '<%= config.bin %> policy set ci --networks none,host --workspace-root /srv/ci',
    '<%= config.bin %> policy set ci --max-memory unlimited --allow-nested-namespaces',
    '<%= config.bin %> policy set ci --reset',
  ];

  static override args = { namespace: Args.string({ description: 'The namespace (created if it does not exist yet).', required: true }) };
  static override flags = {
    reset: Flags.boolean({ description: 'Start from the defaults instead of the current policy.' }),
    networks: Flags.string({ description: 'Network modes its sandboxes may use, comma-separated (must include none): none, host, allow (any egress allowlist), allow:ENTRY (allowlists within ENTRY, e.g. allow:*.pypi.org; host grants any allowlist too).' }),
    'workspace-root': Flags.string({ description: 'A host directory under which its sandboxes may mount workspaces (repeatable; replaces the list).', multiple: true }),
    'clear-workspace-roots': Flags.boolean({ description: 'No host workspaces at all.' }),
    'allow-nested-namespaces': Flags.boolean({ description: 'May its sandboxes create namespaces of their own.', allowNo: true }),
    'allow-custom-seccomp': Flags.boolean({ description: 'May its sandboxes bring their own seccomp profile.', allowNo: true }),
    'max-memory': Flags.string({ description: 'Largest memory limit of one sandbox (e.g. 2g).' }),
    'max-cpus': Flags.string({ description: 'Largest CPU share of one sandbox (e.g. 2); also applied to sandboxes that ask for none.' }),
    'max-pids': Flags.string({ description: 'Largest pids limit of one sandbox.' }),
    'max-disk': Flags.string({ description: 'Largest disk limit of one sandbox (e.g. 4g).' }),
    'max-sandboxes': Flags.string({ description: 'Sandboxes in the namespace, in any state.' }),
    'max-running': Flags.string({ description: 'Running sandboxes at once.' }),
    'max-total-memory': Flags.string({ description: 'Memory limits of its running sandboxes, added up (e.g. 8g).' }),
    'max-total-pids': Flags.string({ description: 'Pids limits of its running sandboxes, added up.' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(PolicySet);
    const patch = policyPatch(flags);
    const view = await this.withClient((c) => c.setPolicy(args.namespace, patch));
    this.output(flags.json, view, () => process.stdout.write(renderPolicy(view)));
  }
}
