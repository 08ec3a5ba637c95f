import { Args } from '@oclif/core';
import type { ExecutionView } from '../client/types.js';
import { DaemonCommand } from '../cli/daemon-command.js';
import { ago, renderTable } from '../cli/format.js';

function outcome(e: ExecutionView): string {
  if (e.timed_out) return 'timeout';
  if (e.oom_killed) return 'oom';
  if (e.exit_code !== null) return String(e.exit_code);
  return e.signal !== null ? `signal ${e.signal}` : '-';
}

function duration(ms: number | null): string {
  if (ms === null) return '-';
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`;
}

function quote(arg: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export default class Logs extends DaemonCommand {
  static override summary = 'List the commands run in a sandbox: when, by whom, how they ended.';
  static override examples = ['<%= config.bin %> logs web', '<%= config.bin %> logs web --json'];
  static override args = { name: Args.string({ description: 'Sandbox name or id.', required: true }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Logs);
    const executions = await this.withClient((c) => c.logs(args.name));
    this.output(flags.json, { executions }, () => {
      const rows = executions.map((e) => [ago(e.started_at), outcome(e), duration(e.duration_ms), e.actor, e.cmd.map(quote).join(' ')]);
      process.stdout.write(renderTable(['STARTED', 'EXIT', 'DURATION', 'ACTOR', 'COMMAND'], rows));
    });
  }
}
