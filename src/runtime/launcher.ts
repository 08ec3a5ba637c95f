/**
 * Where a daemon's sandbox supervisors come from: a small resident process, `bkg-helper --launcher`
 * (helper/src/launcher.h), instead of a fork of the daemon. Node's spawn forks the whole daemon,
 * whose page tables grow with it, and blocks the event loop meanwhile (bench/daemon.mjs's start step
 * halved without it); the launcher is a few hundred KiB. It is started at the first
 * sandbox start, ends with the daemon, and is started again if it dies. Without it (or when it
 * cannot be reached) the engine spawns the helper itself, as before.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import type { Logger } from '../log.js';

export class HelperLauncher {
  private child: ChildProcess | null = null;
  private listening: Promise<boolean> | null = null;

  constructor(private readonly o: { helperPath: string; socketPath: string; log: Logger }) {}

  /**
   * A connection to a new supervisor: the spec is sent, and what comes back is the launcher's
   * `{"type":"spawned","pid":N}` line, then the supervisor's status lines. Null when no launcher
   * can be had: the caller spawns the helper itself.
   */
  async open(spec: Buffer, retry = true): Promise<Socket | null> {
    if (!(await this.up())) return null;
    const sock = await new Promise<Socket | null>((resolve) => {
      const s = connect({ path: this.o.socketPath });
      s.once('connect', () => resolve(s));
      s.once('error', () => resolve(null));
    });
    if (!sock) {
      this.o.log.warn({ socket: this.o.socketPath }, 'the helper launcher did not answer; starting it again');
      this.close();
      return retry ? this.open(spec, false) : null;
    }
    sock.on('error', () => {}); // an error ends in 'close', which the reader of the lines sees
    const len = Buffer.alloc(4);
    len.writeUInt32BE(spec.length);
    sock.write(Buffer.concat([len, spec]));
    return sock;
  }

  /** Stop it (the daemon's end; it would end with the daemon's process anyway). */
  close(): void {
    this.child?.kill('SIGKILL');
    this.child = null;
    this.listening = null;
  }

  private up(): Promise<boolean> {
    if (this.listening) return this.listening;
    const listening = new Promise<boolean>((resolve) => {
      const child = spawn(this.o.helperPath, ['--launcher', this.o.socketPath], { stdio: ['ignore', 'pipe', 'ignore'], env: {}, argv0: 'bkg-helper' });
      this.child = child;
      child.unref();
      let out = '';
      child.stdout?.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (!out.includes('\n')) return;
        const ok = out.startsWith('{"type":"listening"}');
        if (!ok) this.o.log.warn({ said: out.trim() }, 'the helper launcher did not start; supervisors are spawned by the daemon');
        child.stdout?.destroy(); // it says nothing more
        resolve(ok);
      });
      child.once('error', (err) => {
        this.o.log.warn({ err }, 'the helper launcher could not be spawned; supervisors are spawned by the daemon');
        resolve(false);
      });
      child.once('exit', (code, signal) => {
        resolve(false);
        if (this.child !== child) return;
        if (code !== null || signal !== 'SIGKILL') this.o.log.warn({ code, signal }, 'the helper launcher exited; it is started again at the next sandbox start');
        this.child = null;
        this.listening = null;
      });
    });
    this.listening = listening;
    return listening;
  }
}
