import { Flags } from '@oclif/core';
import { DaemonCommand } from '../cli/daemon-command.js';
import { lsCommand } from '../cli/sandbox-commands.js';

export default class Ls extends DaemonCommand {
  static override summary = 'List sandboxes.';
  static override description = 'MEMORY is the limit, or use/limit while running; EXPIRES is the earlier of the timeout and the idle timeout.';
  static override examples = ['<%= config.bin %> ls', '<%= config.bin %> ls --all-hosts', '<%= config.bin %> ls --json'];
  static override flags = {
    'all-hosts': Flags.boolean({ description: 'Every host\'s sandboxes of the fleet, with a HOST column (any host serves any of them).', default: false }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Ls);
    process.exitCode = await this.withClient((c) => lsCommand(c, flags.json, flags['all-hosts']));
  }
}
