import { Args } from '@oclif/core';
import { DaemonCommand } from '../../../cli/daemon-command.js';
import { renderSettings, setDaemonSetting, SETTINGS } from '../../../cli/daemon-config.js';

export default class DaemonConfigSet extends DaemonCommand {
  static override summary = 'Change a setting of the running daemon, without a restart (admin; audited).';
  static override description = `Settings: ${SETTINGS.join(', ')}.
otel_sampling_rate: the share of new traces kept, 0.0 to 1.0 (CAVE_OTEL_SAMPLING_RATE at start). It lasts until the daemon stops.`;

  static override examples = ['<%= config.bin %> daemon config set otel_sampling_rate 0.1'];
  static override args = {
    setting: Args.string({ description: 'The setting.', required: true }),
    value: Args.string({ description: 'Its new value.', required: true }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DaemonConfigSet);
    const settings = await this.withClient((c) => setDaemonSetting(c, args.setting, args.value));
    this.output(flags.json, settings, () => process.stdout.write(renderSettings(settings)));
  }
}
