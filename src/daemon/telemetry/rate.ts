/** A rate as CAVE_OTEL_SAMPLING_RATE and the config route take it: a number from 0.0 to 1.0. */
export function isSamplingRate(n: unknown): n is number {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 && n <= 1;
}
