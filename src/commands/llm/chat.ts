import { createInterface } from 'node:readline/promises';
import { Args, Flags } from '@oclif/core';
import { BkgError } from '../../api/errors.js';
import { parsePositiveInt } from '../../api/units.js';
import { DaemonCommand } from '../../cli/daemon-command.js';
import type { LlmChatRequest } from '../../client/daemon-client.js';

type Message = LlmChatRequest['messages'][number];

export default class LlmChat extends DaemonCommand {
  static override summary = 'Chat with a model of the registry: the reply streams into your terminal as it is generated.';
  static override description = `With PROMPT (or a prompt on stdin) one answer; without, a conversation: type a line, read the reply,
Ctrl-D to end. Admins chat with any model; anyone else passes a model-access key (--key, or
BKG_MODEL_KEY) and its namespace (--namespace, or the X-Cave-Namespace it was granted for).`;

  static override examples = [
    '<%= config.bin %> llm chat stories260K "Once upon a time"',
    'echo "Tell me a story" | <%= config.bin %> llm chat stories260K',
    '<%= config.bin %> llm chat stories260K --key "$KEY" --namespace ci',
  ];

  static override strict = false;
  static override args = { model: Args.string({ description: 'The model id (`bkg llm ls`).', required: true }), prompt: Args.string({ description: 'The prompt (the rest of the line).', ignoreStdin: true }) };
  static override flags = {
    system: Flags.string({ description: 'A system message to start the conversation with.' }),
    'max-tokens': Flags.string({ description: 'Longest reply, in tokens.', default: '256' }),
    temperature: Flags.string({ description: 'Sampling temperature, 0 (always the likeliest token) to 2.', default: '0.7' }),
    key: Flags.string({ description: 'A model-access key (default: BKG_MODEL_KEY; none: your own API key, which must be an admin\'s).' }),
    namespace: Flags.string({ description: 'The namespace the model-access key was granted for.' }),
  };

  async run(): Promise<void> {
    const { args, flags, argv } = await this.parse(LlmChat);
    const temperature = Number(flags.temperature);
    if (!/^\d+(\.\d+)?$/.test(flags.temperature) || temperature > 2) throw new BkgError('INVALID_ARGUMENT', `--temperature: "${flags.temperature}" must be a number from 0 to 2`);
    const key = flags.key ?? process.env.BKG_MODEL_KEY;
    if (key && !flags.namespace) throw new BkgError('INVALID_ARGUMENT', '--namespace: required with a model-access key (the namespace it was granted for)');
    const base = { model: args.model, max_tokens: parsePositiveInt(flags['max-tokens'], '--max-tokens', 32_768), temperature };
    const opts = { ...(key ? { key } : {}), ...(flags.namespace ? { namespace: flags.namespace } : {}) };
    const messages: Message[] = flags.system ? [{ role: 'system', content: flags.system }] : [];
    const given = (argv as string[]).slice(1).join(' ');
    const prompt = given || (process.stdin.isTTY ? '' : await readAll());
    await this.withClient(async (c) => {
      const ask = async (text: string): Promise<Record<string, unknown>> => {
        messages.push({ role: 'user', content: text });
        let reply = '';
        const done = await c.llmChat({ ...base, messages }, { ...opts, onText: (t) => {
          reply += t;
          if (!flags.json) process.stdout.write(t);
        } });
        messages.push({ role: 'assistant', content: reply });
        return { reply, ...done };
      };
      if (prompt) {
        const r = await ask(prompt);
        this.output(flags.json, r, () => process.stdout.write('\n'));
        return;
      }
      if (flags.json) throw new BkgError('INVALID_ARGUMENT', '--json needs a PROMPT (a conversation is for the terminal)');
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        for (;;) {
          const line = await rl.question('> ').catch(() => null);
          if (line === null) break;
          if (!line.trim()) continue;
          await ask(line);
          process.stdout.write('\n');
        }
      } finally {
        rl.close();
      }
    });
  }
}

async function readAll(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8').trim();
}
