import { existsSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { Args, Flags } from '@oclif/core';
import { BkgError, ERRORS, exitCodeFor, toErrorBody, type ErrorCode } from '../../api/errors.js';
import { DaemonCommand } from '../../cli/daemon-command.js';
import { createProgress, jsonLine } from '../../cli/progress.js';

const POLL_MS = 200;

export default class LlmPull extends DaemonCommand {
  static override summary = 'Download (or copy) a GGUF model, verify it in a sandbox, and add it to the cache.';
  static override description = 'Shows the download\'s progress on stderr: a bar with bytes, rate and ETA on a terminal, plain lines otherwise. With --json, stdout carries one JSON object per line: {"type":"progress",...} events, then {"type":"result",...} (the finished download job) or {"type":"error","error":{...}}.';
  static override examples = [
    '<%= config.bin %> llm pull https://example.org/models/stories260K.gguf --sha256 270cba1b…',
    '<%= config.bin %> llm pull ./model.gguf --sig model.gguf.sig --name mymodel',
  ];
  static override args = { source: Args.string({ description: 'An http(s) URL or a local path; with --from-peers, the model\'s id or name.', required: true }) };
  static override flags = {
    name: Flags.string({ description: 'The model id to use (default: from the file name).' }),
    sha256: Flags.string({ description: 'The expected sha256 (hex).' }),
    sig: Flags.string({ description: 'A detached Ed25519 signature over the file\'s sha256 (keys trusted with `bkg llm trust add`).' }),
    'from-peers': Flags.boolean({ description: 'Fetch the model in chunks from the trusted P2P peers that hold it (README "P2P plugin"); verified here as a download is. A bare name that is no file here does this too.', default: false, exclusive: ['sha256', 'sig', 'name'] }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(LlmPull);
    const url = /^https?:\/\//.test(args.source);
    // a bare model name that is no file here: fetched from the trusted peers that hold it (automatic fallback)
    const auto = !flags['from-peers'] && !url && !/[/\\]|\.gguf$/i.test(args.source) && !existsSync(resolve(args.source)) && !flags.sha256 && !flags.sig;
    const peers = flags['from-peers'] || auto;
    const source = url || peers ? args.source : resolve(args.source);
    const sig = flags.sig ? readFileSync(flags.sig).toString('base64') : undefined;
    const label = peers ? args.source : basename(url ? (URL.canParse(args.source) ? new URL(args.source).pathname : '') : source) || args.source;
    const progress = createProgress({ json: flags.json, label });
    // Ctrl-C leaves no half-drawn bar behind (the daemon's job goes on: `bkg llm ls` shows the model when it is done)
    const interrupted = (): void => {
      progress.end();
      process.exit(130);
    };
    process.once('SIGINT', interrupted);
    try {
      const result = await this.withClient(async (c) => {
        const { job_id } = peers ? await c.pullFromPeers(args.source).catch((err: unknown) => {
          if (!auto) throw err;
          throw new BkgError('INVALID_ARGUMENT', `${args.source}: not a URL, not a file here, and no trusted peer holds a model of that name (${(err as Error).message})`);
        }) : await c.llmPull({ source, ...(flags.name ? { name: flags.name } : {}), ...(flags.sha256 ? { sha256: flags.sha256 } : {}), ...(sig ? { sig_base64: sig } : {}) });
        for (;;) {
          const job = await c.llmJob(job_id);
          progress.update({ phase: job.status, done: job.bytes_done, total: job.bytes_total });
          if (job.status === 'done') return job;
          if (job.status === 'failed') {
            // the job records its failure as "CODE: message"
            const m = /^([A-Z_]+): ([\s\S]*)$/.exec(String(job.error ?? ''));
            const code = (m?.[1] && m[1] in ERRORS ? m[1] : 'DOWNLOAD_FAILED') as ErrorCode;
            throw new BkgError(code, m?.[2] ?? String(job.error ?? 'the download failed'));
          }
          await new Promise((r) => setTimeout(r, POLL_MS));
        }
      });
      progress.end();
      if (flags.json) jsonLine({ type: 'result', ...result });
      else process.stdout.write(`Pulled ${String(result.model_id)}${peers ? ' from peers' : ''} (verified in a sandbox).\n`);
    } catch (err) {
      progress.end();
      if (!flags.json) throw err;
      // the --json stream stays one JSON object per line to its end
      jsonLine({ type: 'error', ...toErrorBody(err).body });
      process.exitCode = exitCodeFor(err);
    } finally {
      process.removeListener('SIGINT', interrupted);
    }
  }
}
