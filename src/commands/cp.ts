import { readFile, stat, writeFile } from 'node:fs/promises';
import { Args } from '@oclif/core';
import { BkgError } from '../api/errors.js';
import { FILE_CAP } from '../api/sandboxes.js';
import { planCopy } from '../cli/copy-plan.js';
import { DaemonCommand } from '../cli/daemon-command.js';

async function readLocal(path: string): Promise<Buffer> {
  if (path === '-') {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of process.stdin as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > FILE_CAP) throw new BkgError('PAYLOAD_TOO_LARGE', `stdin is larger than ${FILE_CAP} bytes, the most bkg cp moves`);
      chunks.push(c);
    }
    return Buffer.concat(chunks);
  }
  const st = await stat(path).catch(() => null);
  if (!st?.isFile()) throw new BkgError('INVALID_ARGUMENT', `${path} is not a file; bkg cp copies single files`);
  if (st.size > FILE_CAP) throw new BkgError('PAYLOAD_TOO_LARGE', `${path} is ${st.size} bytes; bkg cp moves at most ${FILE_CAP}`);
  return readFile(path);
}

export default class Cp extends DaemonCommand {
  static override summary = 'Copy a file into or out of a running sandbox.';
  static override description = 'One of SRC and DST is NAME:/absolute/path inside the sandbox, the other a local path (- for stdin or stdout). Single files of at most 16 MiB.';
  static override examples = [
    '<%= config.bin %> cp ./data.csv web:/workspace/data.csv',
    '<%= config.bin %> cp web:/workspace/out/report.txt .',
    '<%= config.bin %> cp web:/etc/os-release -',
  ];

  static override args = {
    src: Args.string({ description: 'Source: a local file, or NAME:/path.', required: true }),
    dst: Args.string({ description: 'Destination: a local path, or NAME:/path.', required: true }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Cp);
    const plan = planCopy(args.src, args.dst);
    let bytes: number;
    if (plan.direction === 'in') {
      const data = await readLocal(plan.local);
      await this.withClient((c) => c.writeFile(plan.sandbox, plan.path, data));
      bytes = data.length;
    } else {
      const data = await this.withClient((c) => c.readFile(plan.sandbox, plan.path));
      if (plan.local === '-' && !flags.json) {
        process.stdout.write(data);
        return;
      }
      if (plan.local !== '-') {
        await writeFile(plan.local, data).catch((err: Error) => {
          throw new BkgError('INVALID_ARGUMENT', `cannot write ${plan.local}: ${err.message}`);
        });
      }
      bytes = data.length;
    }
    this.output(flags.json, { ...plan, bytes }, () => {
      const target = plan.direction === 'in' ? `${plan.sandbox}:${plan.path}` : plan.local;
      process.stdout.write(`Copied ${bytes} bytes to ${target}.\n`);
    });
  }
}
