/** pino loggers. Logs go to stderr (CLI) or files (daemon); stdout carries only results. */
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(opts: { level?: string; name?: string } = {}): Logger {
  const level = opts.level ?? process.env.BKG_LOG_LEVEL ?? 'warn';
  return pino({ name: opts.name ?? 'bkg', level }, pino.destination({ fd: 2, sync: true }));
}
