import { Args } from '@oclif/core';
import { BkgCommand } from '../cli/base-command.js';
import { autocompleteCommand, installHelp, SHELLS } from '../cli/completion-scripts.js';

export default class Autocomplete extends BkgCommand {
  static override summary = 'Print the shell completion script for bash or zsh (commands, flags, sandbox names).';
  static override description = `The script asks bkg what to complete at each Tab (commands and flags of the installed bkg, the names of the sandboxes of a running daemon), so it never goes stale.\n\n${installHelp('bash')}\n${installHelp('zsh')}`;
  static override examples = ['source <(<%= config.bin %> autocomplete bash)', '<%= config.bin %> autocomplete zsh > ~/.zsh/completions/_bkg'];
  static override args = { shell: Args.string({ description: 'bash or zsh (default: your $SHELL).', options: [...SHELLS] }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Autocomplete);
    process.exitCode = autocompleteCommand(args.shell, flags.json);
  }
}
