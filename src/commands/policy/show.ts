import { Args } from '@oclif/core';
import { DaemonCommand } from '../../cli/daemon-command.js';
import { renderPolicies, renderPolicy } from '../../cli/policy.js';

export default class PolicyShow extends DaemonCommand {
  static override summary = 'Show namespace policies: the privileges and quotas of a namespace, and what it uses.';
  static override description = `Without NAMESPACE: every namespace the key can see, one line each. A namespace without a policy of
its own has the defaults (network none only; 2 GiB, 4096 pids and 4 GiB of disk per sandbox;
20 sandboxes; 8 GiB and 16384 pids across its running sandboxes). Admin keys are never limited by a policy.`;

  static override examples = ['<%= config.bin %> policy show', '<%= config.bin %> policy show ci', '<%= config.bin %> policy show ci --json'];
  static override args = { namespace: Args.string({ description: 'The namespace (default: all).' }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(PolicyShow);
    if (args.namespace !== undefined) {
      const view = await this.withClient((c) => c.getPolicy(args.namespace as string));
      this.output(flags.json, view, () => process.stdout.write(renderPolicy(view)));
      return;
    }
    const policies = await this.withClient((c) => c.listPolicies());
    this.output(flags.json, { policies }, () => process.stdout.write(renderPolicies(policies)));
  }
}
