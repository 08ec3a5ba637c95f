import { Args, Flags } from '@oclif/core';
import { DaemonCommand } from '../cli/daemon-command.js';
import { execFromArgs } from '../cli/exec-command.js';

export default class Exec extends DaemonCommand {
  static override summary = 'Run a command in a running sandbox.';
  static override description = `Streams the command's stdout and stderr live on the matching streams (no size limit) and exits
with its exit code: 128+N when it is killed by signal N (130 after Ctrl-C, which reaches the
command in the sandbox; a second Ctrl-C ends it at once), 124 on timeout, 125 when the sandbox ran
out of memory. -i forwards stdin; -t runs it on a terminal. --json collects everything into one result.`;

  static override examples = [
    '<%= config.bin %> exec web -- ls -la /workspace',
    'echo "print(6*7)" | <%= config.bin %> exec -i web -- python3 -',
    '<%= config.bin %> exec web --json --timeout 10s -- make test',
  ];

  static override strict = false;
  static override args = {
    name: Args.string({ description: 'Sandbox name or id.', required: true }),
    cmd: Args.string({ description: 'Command and arguments (after --).', required: false, ignoreStdin: true }),
  };

  static override flags = {
    env: Flags.string({ char: 'e', description: 'Environment variable K=V (repeatable).', multiple: true }),
    cwd: Flags.string({ description: 'Working directory inside the sandbox (absolute; default /workspace).' }),
    timeout: Flags.string({ description: 'Kill the command after this long, e.g. 30s.' }),
    interactive: Flags.boolean({ char: 'i', description: 'Forward stdin to the command (streamed, until end of input).', default: false }),
    tty: Flags.boolean({ char: 't', description: 'Run on a terminal, streamed live (stdin forwarded, window size followed).', default: false }),
  };

  async run(): Promise<void> {
    const { args, flags, argv } = await this.parse(Exec);
    process.exitCode = await execFromArgs({ args, flags, argv: argv as string[] });
  }
}
