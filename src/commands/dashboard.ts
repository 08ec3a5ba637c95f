import { Flags } from '@oclif/core';
import { BkgCommand } from '../cli/base-command.js';

export default class Dashboard extends BkgCommand {
  static override aliases = ['top'];
  static override summary = 'The live terminal dashboard of sandboxes, keys, audit and models (alias: bkg top).';
  static override description = [
    'A table of sandboxes that updates every second from the daemon\'s event stream: state, CPU %, memory against its limit, processes, uptime, idle time left; a detail pane for the selected one (limits, CPU and memory history, recent commands with exit codes, workspace changes); views of the API keys, the audit log and the models (keys 1-4 or Tab).',
    'Act on the selected sandbox without typing its name: s start, x stop, d delete, e run a command, t open a shell (the dashboard comes back when it exits). `?` lists every key; q or Ctrl-C leaves the terminal as it was. With a read-only key the actions are hidden.',
    'Works against a remote daemon (BKG_API_URL and BKG_API_KEY) as against the local one, in 80x24 and up; NO_COLOR turns colour off. It needs a terminal: for scripts, --once prints one snapshot as a table, and --once --json as JSON.',
  ].join('\n\n');
  static override examples = [
    '<%= config.bin %> dashboard',
    '<%= config.bin %> top --sort cpu',
    '<%= config.bin %> dashboard --filter web',
    '<%= config.bin %> dashboard --once',
    '<%= config.bin %> dashboard --once --json',
  ];
  static override flags = {
    once: Flags.boolean({ description: 'Print one snapshot of the sandboxes table and exit (a plain table; JSON with --json). Needs no terminal.', default: false }),
    sort: Flags.string({ description: 'Sort the table by name, namespace, state, cpu, memory, pids or uptime (a leading - reverses; o cycles it in the dashboard).' }),
    filter: Flags.string({ description: 'Show only sandboxes whose name, namespace, state or runtime contain these words (/ changes it in the dashboard).' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Dashboard);
    const { dashboard } = await import('../ui/launch.js');
    process.exitCode = await dashboard({ once: flags.once, json: flags.json, sort: flags.sort, filter: flags.filter });
  }
}
