import { Args, Flags } from '@oclif/core';
import { BkgError } from '../api/errors.js';
import { parseDuration } from '../api/units.js';
import { DaemonCommand } from '../cli/daemon-command.js';
import { readStdin, renderExec } from '../cli/exec-output.js';
import { envFromFlags } from '../cli/sandbox-flags.js';

const STDIN_CAP = 1024 * 1024;

export default class Exec extends DaemonCommand {
  static override summary = 'Run a command in a running sandbox.';
  static override description = `Prints the command's stdout and stderr on the matching streams and exits with its exit code:
128+N when it is killed by signal N, 124 on timeout, 125 when the sandbox ran out of memory.
Output is captured by the daemon (at most 1 MiB per stream); -i sends all of stdin first (at most 1 MiB).`;

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
    cwd: Flags.string({ description: 'Working directory inside the sandbox (absolute).' }),
    timeout: Flags.string({ description: 'Kill the command after this long, e.g. 30s.' }),
    interactive: Flags.boolean({ char: 'i', description: 'Send stdin to the command.', default: false }),
    tty: Flags.boolean({ char: 't', description: 'Run on a terminal, streamed live (stdin forwarded, window size followed).', default: false }),
  };

  async run(): Promise<void> {
    const { args, flags, argv } = await this.parse(Exec);
    const cmd = (argv as string[]).slice(1);
    if (cmd.length === 0) throw new BkgError('INVALID_ARGUMENT', 'give the command to run after --, as in `bkg exec NAME -- ls -la`');
    if (flags.cwd !== undefined && !flags.cwd.startsWith('/')) throw new BkgError('INVALID_ARGUMENT', `--cwd: "${flags.cwd}" must be an absolute path inside the sandbox`);
    const timeoutMs = flags.timeout === undefined ? undefined : parseDuration(flags.timeout, '--timeout');
    const env = await envFromFlags(flags.env);
    if (flags.tty) {
      if (flags.json) throw new BkgError('INVALID_ARGUMENT', '--tty streams to your terminal; it cannot be combined with --json');
      const { terminalExec } = await import('../cli/terminal-exec.js');
      process.exitCode = await this.withClient((c) =>
        terminalExec(c, args.name, { cmd, ...(env ? { env } : {}), ...(flags.cwd ? { cwd: flags.cwd } : {}), ...(timeoutMs ? { timeoutMs } : {}) }),
      );
      return;
    }
    const stdin = flags.interactive ? await readStdin(STDIN_CAP) : undefined;
    const r = await this.withClient((c) =>
      c.exec(args.name, {
        cmd,
        ...(env ? { env } : {}),
        ...(flags.cwd ? { cwd: flags.cwd } : {}),
        ...(stdin !== undefined ? { stdin } : {}),
        ...(timeoutMs ? { timeout_ms: timeoutMs } : {}),
      }),
    );
    process.exitCode = await renderExec(r, { json: flags.json, cmd, ...(timeoutMs ? { timeoutMs } : {}) });
  }
}
