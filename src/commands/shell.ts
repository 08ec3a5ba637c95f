import { Args, Flags } from '@oclif/core';
import { DaemonCommand } from '../cli/daemon-command.js';

export default class Shell extends DaemonCommand {
  static override summary = 'Open an interactive shell in a running sandbox.';
  static override description = 'A terminal session (its own pty inside the sandbox) streamed over the daemon\'s WebSocket; the window size follows yours and the exit code is the shell\'s.';
  static override examples = ['<%= config.bin %> shell web', '<%= config.bin %> shell web --shell /bin/sh'];
  static override args = { name: Args.string({ description: 'Sandbox name or id.', required: true }) };
  static override flags = {
    shell: Flags.string({ description: 'The shell to run (default: bash when the sandbox has it, else sh).' }),
    cwd: Flags.string({ description: 'Working directory inside the sandbox (absolute; default /workspace).' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Shell);
    const { INTERACTIVE_SHELL, terminalExec } = await import('../cli/terminal-exec.js');
    process.exitCode = await this.withClient((c) =>
      terminalExec(c, args.name, { cmd: flags.shell ? [flags.shell, '-i'] : INTERACTIVE_SHELL, env: { TERM: process.env.TERM || 'xterm-256color' }, ...(flags.cwd ? { cwd: flags.cwd } : {}) }),
    );
  }
}
