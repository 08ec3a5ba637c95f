/**
 * Start the host's daemon when nothing answers on $BKG_HOME/bkg.sock: `bkg daemon start --foreground`
 * detached, its output appended to $BKG_HOME/logs/daemon.out, then wait until it answers /healthz.
 */
import { closeSync, fstatSync, mkdirSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BkgError } from '../api/errors.js';

export const DEFAULT_START_TIMEOUT_MS = 10_000;
const POLL_MS = 100;
const TAIL_BYTES = 2048;

/** bin/run.js of this package, from dist/client/ or src/client/ alike. */
export const DEFAULT_BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url));

export interface EnsureDaemonOptions {
  /** BKG_HOME of the daemon to start. */
  home: string;
  /** Whether a daemon answers HTTP on the socket (any answer: an unhealthy daemon is still running). */
  probe: () => Promise<boolean>;
  /** The CLI entry to spawn; default this package's bin/run.js. */
  binPath?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface EnsureDaemonResult {
  /** false when a daemon was already answering. */
  started: boolean;
  pid?: number;
  /** Where the daemon's stdout and stderr go. */
  logFile: string;
}

/** What the daemon wrote to its log since `from`, last few lines only. */
function tailSince(file: string, from: number): string {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const size = fstatSync(fd).size;
    const start = Math.max(from, size - TAIL_BYTES);
    const buf = Buffer.alloc(Math.max(0, size - start));
    readSync(fd, buf, 0, buf.length, start);
    return buf.toString('utf8').trim().split('\n').slice(-5).join('\n');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export async function ensureDaemon(opts: EnsureDaemonOptions): Promise<EnsureDaemonResult> {
  const logDir = join(opts.home, 'logs');
  const logFile = join(logDir, 'daemon.out');
  if (await opts.probe()) return { started: false, logFile };

  const unavailable = (why: string, from: number, cause?: unknown): BkgError => {
    const tail = tailSince(logFile, from);
    return new BkgError('DAEMON_UNAVAILABLE', `the bkg daemon did not start: ${why}${tail ? `; ${logFile} ends with:\n${tail}` : ''}`, {
      hint: `Check ${logFile}; \`bkg daemon start --foreground\` shows why it cannot start.`,
      details: { log: logFile },
      cause,
    });
  };

  let fd: number;
  try {
    mkdirSync(opts.home, { recursive: true, mode: 0o700 });
    mkdirSync(logDir, { recursive: true, mode: 0o700 });
    fd = openSync(logFile, 'a', 0o600);
  } catch (err) {
    throw unavailable(`cannot create ${logFile}: ${(err as Error).message}`, 0, err);
  }
  const from = fstatSync(fd).size;
  // loaded only now: a daemon usually answers, and every command that talks to it pays for what it loads
  const [{ spawn }, { setTimeout: sleep }] = await Promise.all([import('node:child_process'), import('node:timers/promises')]);
  let exited: string | null = null;
  let pid: number | undefined;
  try {
    const child = spawn(process.execPath, [opts.binPath ?? DEFAULT_BIN, 'daemon', 'start', '--foreground'], {
      detached: true,
      stdio: ['ignore', fd, fd],
      cwd: '/',
      env: opts.env ?? process.env,
    });
    pid = child.pid;
    child.once('error', (err) => {
      exited = `cannot run ${process.execPath}: ${err.message}`;
    });
    child.once('exit', (code, signal) => {
      exited = signal ? `it was killed by ${signal}` : `it exited with code ${code}`;
    });
    child.unref();
  } finally {
    closeSync(fd);
  }

  const deadline = Date.now() + (opts.timeoutMs ?? DEFAULT_START_TIMEOUT_MS);
  for (;;) {
    // A daemon that exited may have lost a race with another one that now answers.
    const gone: string | null = exited;
    if (await opts.probe()) return { started: gone === null, ...(gone === null && pid !== undefined ? { pid } : {}), logFile };
    if (gone !== null) throw unavailable(gone, from);
    if (Date.now() >= deadline) throw unavailable(`it did not answer within ${Math.round((opts.timeoutMs ?? DEFAULT_START_TIMEOUT_MS) / 1000)} s`, from);
    await sleep(POLL_MS);
  }
}
