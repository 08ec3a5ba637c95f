import { Args, Flags } from '@oclif/core';
import { DaemonCommand } from '../cli/daemon-command.js';
import { startCommand } from '../cli/sandbox-commands.js';

export default class Start extends DaemonCommand {
  static override summary = 'Start stopped sandboxes again (with their files as they were), or create those of cave.yaml that do not exist yet.';
  static override examples = ['<%= config.bin %> start web', '<%= config.bin %> start web worker'];
  static override strict = false;
  static override args = { name: Args.string({ description: 'Sandbox names or ids.', required: true }) };
  static override flags = { file: Flags.string({ description: 'The project file, for sandboxes that do not exist yet.', default: 'cave.yaml' }) };

  async run(): Promise<void> {
    const { flags, argv } = await this.parse(Start);
    process.exitCode = await this.withClient((c) => startCommand(c, argv as string[], { json: flags.json, configPath: flags.file }));
  }
}
