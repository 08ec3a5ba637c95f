import { Args, Flags } from '@oclif/core';
import { BkgError } from '../../api/errors.js';
import { SCOPES, type Scope } from '../../api/names.js';
import { parseDuration, parsePositiveInt } from '../../api/units.js';
import { DaemonCommand } from '../../cli/daemon-command.js';

export default class LlmApprove extends DaemonCommand {
  static override summary = 'Approve a model-access request: prints the signed key once.';
  static override examples = ['<%= config.bin %> llm approve req_1a2b3c --scopes chat,embed --ttl 1h --rpm 60'];
  static override args = { id: Args.string({ description: 'The request id (`bkg llm requests`).', required: true }) };
  static override flags = {
    scopes: Flags.string({ description: 'Comma-separated: chat, completion, embed.', default: 'chat' }),
    ttl: Flags.string({ description: 'How long the key is valid, e.g. 1h.', default: '1h' }),
    rpm: Flags.string({ description: 'Requests per minute allowed with the key.', default: '60' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(LlmApprove);
    const ttlMs = parseDuration(flags.ttl, '--ttl');
    if (ttlMs % 1000) throw new BkgError('INVALID_ARGUMENT', '--ttl: use whole seconds');
    const scopes = flags.scopes.split(',').map((s) => s.trim()).filter(Boolean);
    const unknown = scopes.find((s) => !(SCOPES as readonly string[]).includes(s));
    if (unknown !== undefined) throw new BkgError('INVALID_ARGUMENT', `--scopes: "${unknown}" is not a scope (scopes: ${SCOPES.join(', ')})`);
    const r = await this.withClient((c) => c.llmApprove(args.id, { scopes: scopes as Scope[], ttl_s: ttlMs / 1000, rpm: parsePositiveInt(flags.rpm, '--rpm', 1_000_000) }));
    this.output(flags.json, r, () => {
      process.stderr.write(`Approved ${args.id}. Its model-access key (id ${r.token_id}, expires ${r.expires_at}), shown only now:\n`);
      process.stdout.write(`${r.token}\n`); // stdout carries only the key: KEY=$(bkg llm approve ...)
    });
  }
}
