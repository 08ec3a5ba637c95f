import { Args } from '@oclif/core';
import { DaemonCommand } from '../../cli/daemon-command.js';
import { keyIdOf } from '../../cli/key-ref.js';

export default class KeyRotate extends DaemonCommand {
  static override summary = 'Give an API key a new secret (printed once); the old secret stops working.';
  static override examples = ['<%= config.bin %> key rotate key_1a2b3c4d', '<%= config.bin %> key rotate ci'];
  static override args = { id: Args.string({ description: 'The key\'s id or name (`bkg key ls`).', required: true }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(KeyRotate);
    const rotated = await this.withClient(async (c) => c.rotateKey(await keyIdOf(c, args.id)));
    this.output(flags.json, rotated, () => {
      process.stderr.write(`Rotated key ${rotated.key.id} (${rotated.key.name}). Its new secret, shown only now:\n`);
      process.stdout.write(`${rotated.secret}\n`);
    });
  }
}
