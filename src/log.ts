/**
 * Loggers. The daemon logs with pino to its files; the CLI logs to stderr (stdout carries only
 * results) with a small writer of pino's JSON lines, so that no command pays for loading pino.
 */
import type { Logger } from 'pino';

export type { Logger };

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/** A logger writing pino-format JSON lines to stderr, synchronously, at or above `level` (default BKG_LOG_LEVEL or warn). */
export function createLogger(opts: { level?: string; name?: string } = {}, bindings: Record<string, unknown> = {}): Logger {
  const level = opts.level ?? process.env.BKG_LOG_LEVEL ?? 'warn';
  const threshold = LEVELS[level] ?? LEVELS.warn as number;
  const name = opts.name ?? 'bkg';
  const write = (n: number) => (objOrMsg?: unknown, msg?: string): void => {
    if (n < threshold) return;
    const obj = typeof objOrMsg === 'object' && objOrMsg !== null ? (objOrMsg instanceof Error ? { err: { message: objOrMsg.message, stack: objOrMsg.stack } } : objOrMsg) : {};
    const text = typeof objOrMsg === 'string' ? objOrMsg : msg;
    process.stderr.write(`${JSON.stringify({ level: n, time: Date.now(), pid: process.pid, name, ...bindings, ...obj, ...(text === undefined ? {} : { msg: text }) })}\n`);
  };
  const log = {
    level,
    trace: write(10), debug: write(20), info: write(30), warn: write(40), error: write(50), fatal: write(60),
    silent: () => {},
    isLevelEnabled: (l: string) => (LEVELS[l] ?? Infinity) >= threshold,
    child: (more: Record<string, unknown>) => createLogger({ level, name }, { ...bindings, ...more }),
    flush: () => {},
  };
  return log as unknown as Logger;
}
