/**
 * The terminal as the dashboard borrows it: the alternate screen (so that leaving shows the
 * screen exactly as it was), the cursor hidden, keys read in raw mode — and all of it given back on
 * every way out: q, Ctrl-C, SIGTERM/SIGHUP/SIGINT, an uncaught error, process.exit.
 */
import { writeSync } from 'node:fs';
import { ReadStream } from 'node:tty';

/** Enter the alternate screen, clear it, hide the cursor. */
export const ENTER = '\x1b[?1049h\x1b[H\x1b[2J\x1b[?25l';
/** Show the cursor, leave the alternate screen (the terminal restores the screen and cursor it saved). */
export const LEAVE = '\x1b[?25h\x1b[?1049l';
/** Clear the (alternate) screen for someone else, cursor home and shown. */
export const HAND_OVER = '\x1b[H\x1b[2J\x1b[?25h';
/** Take it back: cursor hidden, screen cleared. */
export const TAKE_BACK = '\x1b[?25l\x1b[H\x1b[2J';

const SIGNALS = { SIGTERM: 15, SIGHUP: 1, SIGINT: 2 } as const;

export class TerminalScreen {
  private active = false;
  private input: ReadStream | null = null;
  private readonly onExit = (): void => this.restore();
  private readonly onSignal = (signal: keyof typeof SIGNALS): void => {
    this.restore();
    process.exit(128 + SIGNALS[signal]);
  };
  private readonly onCrash = (err: unknown): void => {
    this.restore();
    process.stderr.write(`bkg: the dashboard failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n  hint: This is a bug in bkg; please report it with the command you ran.\n`);
    process.exit(1);
  };

  constructor(private readonly fd = 1) {}

  enter(): void {
    if (this.active) return;
    this.active = true;
    this.write(ENTER);
    process.on('exit', this.onExit);
    for (const s of Object.keys(SIGNALS) as (keyof typeof SIGNALS)[]) process.on(s, this.onSignal);
    process.on('uncaughtException', this.onCrash);
    process.on('unhandledRejection', this.onCrash);
  }

  /**
   * A fresh reader of the terminal's keys. Each is closed when the dashboard lends the terminal
   * out (see `release`): a paused stream would go on reading, and steal the keys meant for the shell.
   */
  keys(): ReadStream {
    this.input = new ReadStream(0);
    return this.input;
  }

  /** Stop reading keys and leave raw mode (before a child process takes the terminal). */
  release(): void {
    const input = this.input;
    this.input = null;
    if (!input) return;
    if (input.isRaw) input.setRawMode(false);
    input.destroy();
  }

  handOver(): void {
    this.release();
    this.write(HAND_OVER);
  }

  takeBack(): void {
    this.write(TAKE_BACK);
  }

  /** Give everything back (idempotent; safe in an exit handler: synchronous). */
  restore(): void {
    this.release();
    if (!this.active) return;
    this.active = false;
    this.write(LEAVE);
    process.off('exit', this.onExit);
    for (const s of Object.keys(SIGNALS) as (keyof typeof SIGNALS)[]) process.off(s, this.onSignal);
    process.off('uncaughtException', this.onCrash);
    process.off('unhandledRejection', this.onCrash);
  }

  private write(s: string): void {
    try {
      writeSync(this.fd, s);
    } catch {
      /* the terminal is gone: nothing to restore */
    }
  }
}
