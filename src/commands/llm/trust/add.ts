import { readFileSync } from 'node:fs';
import { Args } from '@oclif/core';
import { DaemonCommand } from '../../../cli/daemon-command.js';

export default class LlmTrustAdd extends DaemonCommand {
  static override summary = 'Trust an Ed25519 public key for model signatures (`bkg llm pull --sig`).';
  static override examples = ['<%= config.bin %> llm trust add release-key ./release.pub.pem'];
  static override args = {
    name: Args.string({ description: 'A name for the key.', required: true }),
    file: Args.string({ description: 'The public key: a PEM file, or raw 32 bytes base64.', required: true }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(LlmTrustAdd);
    const r = await this.withClient((c) => c.llmTrustAdd(args.name, readFileSync(args.file, 'utf8').trim()));
    this.output(flags.json, r, () => process.stdout.write(`Trusted ${args.name} (${String(r.fingerprint ?? '')}).\n`));
  }
}
