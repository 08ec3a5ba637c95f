import { Flags } from '@oclif/core';
import { BkgCommand } from '../../cli/base-command.js';
import { bkgLaunch, clientConfig, CONFIG_FILES, MCP_CLIENTS } from '../../cli/mcp/client-config.js';

export default class McpConfig extends BkgCommand {
  static override summary = 'Print the snippet that registers `bkg mcp` in an MCP client (Claude, Cursor, VS Code).';
  static override description = `The command is \`bkg\` when this bkg is on PATH, otherwise the absolute paths of node and bin/run.js.
BKG_HOME and BKG_API_URL are copied into "env" when set; BKG_API_KEY never is (add it yourself).
With --json only the JSON is printed.`;

  static override examples = [
    '<%= config.bin %> mcp config --client claude',
    '<%= config.bin %> mcp config --client cursor --json > ~/.cursor/mcp.json',
    '<%= config.bin %> mcp config --client vscode',
  ];

  static override flags = {
    client: Flags.option({ options: MCP_CLIENTS, description: 'The MCP client to register bkg in.', required: true })(),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(McpConfig);
    const snippet = clientConfig(flags.client, bkgLaunch());
    this.output(flags.json, snippet, () => {
      process.stdout.write(`Add this to ${CONFIG_FILES[flags.client]} (merge the "bkg" entry if the file exists):\n${JSON.stringify(snippet, null, 2)}\n`);
      if (process.env.BKG_API_URL && process.env.BKG_API_KEY) process.stderr.write('bkg: BKG_API_KEY is not copied into the snippet: add it to "env" yourself.\n');
    });
  }
}
