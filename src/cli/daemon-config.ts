/** `bkg daemon config`: the daemon's run-time settings, by the names the API uses. */
import { BkgError } from '../api/errors.js';
import { parseSamplingRate } from '../api/units.js';
import type { DaemonClient } from '../client/daemon-client.js';

export const SETTINGS = ['otel_sampling_rate'] as const;
export type Setting = (typeof SETTINGS)[number];

/** A setting's value from the command line, checked as the daemon would (INVALID_ARGUMENT naming it). */
export function parseSetting(name: string, raw: string): { otel_sampling_rate: number } {
  if (!(SETTINGS as readonly string[]).includes(name)) {
    throw new BkgError('INVALID_ARGUMENT', `${name}: not a setting that changes at run time (settings: ${SETTINGS.join(', ')})`, { details: { field: 'setting' } });
  }
  const n = parseSamplingRate(raw);
  if (n === null) {
    throw new BkgError('INVALID_ARGUMENT', `${name}: "${raw}" must be a number from 0.0 to 1.0`, { details: { field: name } });
  }
  return { otel_sampling_rate: n };
}

export async function setDaemonSetting(c: DaemonClient, name: string, raw: string) {
  return c.setDaemonConfig(parseSetting(name, raw));
}

export function renderSettings(s: { otel_sampling_rate: number; otel_exporting: boolean }): string {
  return `otel_sampling_rate  ${s.otel_sampling_rate}${s.otel_exporting ? '' : '  (no traces exported: OTEL_EXPORTER_OTLP_ENDPOINT was not set at start)'}\n`;
}
