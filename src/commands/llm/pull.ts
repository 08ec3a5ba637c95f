import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Args, Flags } from '@oclif/core';
import { BkgError, ERRORS, type ErrorCode } from '../../api/errors.js';
import { DaemonCommand } from '../../cli/daemon-command.js';

export default class LlmPull extends DaemonCommand {
  static override summary = 'Download (or copy) a GGUF model, verify it in a sandbox, and add it to the cache.';
  static override examples = [
    '<%= config.bin %> llm pull https://example.org/models/stories260K.gguf --sha256 270cba1b…',
    '<%= config.bin %> llm pull ./model.gguf --sig model.gguf.sig --name mymodel',
  ];
  static override args = { source: Args.string({ description: 'An http(s) URL or a local path.', required: true }) };
  static override flags = {
    name: Flags.string({ description: 'The model id to use (default: from the file name).' }),
    sha256: Flags.string({ description: 'The expected sha256 (hex).' }),
    sig: Flags.string({ description: 'A detached Ed25519 signature over the file\'s sha256 (keys trusted with `bkg llm trust add`).' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(LlmPull);
    const source = /^https?:\/\//.test(args.source) ? args.source : resolve(args.source);
    const sig = flags.sig ? readFileSync(flags.sig).toString('base64') : undefined;
    const result = await this.withClient(async (c) => {
      const { job_id } = await c.llmPull({ source, ...(flags.name ? { name: flags.name } : {}), ...(flags.sha256 ? { sha256: flags.sha256 } : {}), ...(sig ? { sig_base64: sig } : {}) });
      const tty = process.stderr.isTTY && !flags.json;
      for (;;) {
        const job = await c.llmJob(job_id);
        const done = Number(job.bytes_done ?? 0);
        const total = Number(job.bytes_total ?? 0);
        if (tty) {
          const pct = total ? Math.floor((done / total) * 100) : 0;
          const bar = '#'.repeat(Math.floor(pct / 5)).padEnd(20, '.');
          process.stderr.write(`\r\x1b[2K[${bar}] ${pct}% ${String(job.status)}`); // clear the line: no leftovers of a longer one
        }
        if (job.status === 'done') {
          if (tty) process.stderr.write('\n');
          return job;
        }
        if (job.status === 'failed') {
          if (tty) process.stderr.write('\n');
          // the job records its failure as "CODE: message"
          const m = /^([A-Z_]+): ([\s\S]*)$/.exec(String(job.error ?? ''));
          const code = (m?.[1] && m[1] in ERRORS ? m[1] : 'DOWNLOAD_FAILED') as ErrorCode;
          throw new BkgError(code, m?.[2] ?? String(job.error ?? 'the download failed'));
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    });
    this.output(flags.json, result, () => process.stdout.write(`Pulled ${String(result.model_id)} (verified in a sandbox).\n`));
  }
}
