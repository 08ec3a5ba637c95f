import { Args, Flags } from '@oclif/core';
import { BkgError } from '../api/errors.js';
import { DaemonCommand } from '../cli/daemon-command.js';

export default class Rm extends DaemonCommand {
  static override summary = 'Remove a sandbox and its state (its workspace changes are lost unless applied).';
  static override examples = ['<%= config.bin %> rm web', '<%= config.bin %> rm --force web'];
  static override args = { name: Args.string({ description: 'Sandbox name or id.', required: true }) };
  static override flags = {
    force: Flags.boolean({ char: 'f', description: 'Stop it first when it is running.', default: false }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Rm);
    const view = await this.withClient(async (c) => {
      const s = await c.getSandbox(args.name);
      if (s.status === 'running') {
        if (!flags.force) throw new BkgError('CONFLICT', `sandbox "${s.name}" is running`, { hint: `Stop it first (\`bkg stop ${s.name}\`), or pass --force.` });
        await c.stopSandbox(s.id);
      }
      await c.removeSandbox(s.id);
      return s;
    });
    this.output(flags.json, { removed: true, id: view.id, name: view.name }, () => process.stdout.write(`Removed ${view.name}.\n`));
  }
}
