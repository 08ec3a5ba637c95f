/**
 * An exec as a message: the persistent sandbox's supervisor listens on a unix socket
 * (helper/src/execserver.h) and runs each command it is sent exactly as a `--exec-into` helper would
 * (same spec, seccomp program, cgroups and rights), without a process spawned from Node. The
 * command's streams and the helper's status lines come back as frames; this module gives them the
 * shape of a spawned helper (HelperRun), so the engine treats both alike.
 */
import { connect, type Socket } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import type { HelperEvent } from './helper-events.js';
import { readStatus, type HelperRun, type StdioMode } from './helper-process.js';

function frame(type: string, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

/** Frames from the server, as they arrive in chunks. */
function frames(onFrame: (type: string, payload: Buffer) => void): (chunk: Buffer) => void {
  let buf: Buffer = Buffer.alloc(0);
  return (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 5) {
      const len = buf.readUInt32BE(1);
      if (buf.length < 5 + len) break;
      onFrame(String.fromCharCode(buf[0] as number), buf.subarray(5, 5 + len));
      buf = buf.subarray(5 + len);
    }
  };
}

/** Connect to a sandbox's exec server; null when it has none (started before exec servers, or gone): the caller spawns a helper. */
async function open(path: string): Promise<Socket | null> {
  return new Promise((resolve) => {
    const sock = connect({ path });
    sock.once('connect', () => resolve(sock));
    sock.once('error', () => resolve(null));
  });
}

export async function connectExec(opts: { path: string; spec: Buffer; seccomp: Buffer | null; stdio: [StdioMode, StdioMode, StdioMode] }): Promise<HelperRun | null> {
  if (opts.stdio.includes('inherit')) return null;
  const sock = await open(opts.path);
  if (!sock) return null;
  sock.on('error', () => {}); // an error ends in 'close', which says what happened
  sock.setNoDelay?.(true);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(opts.spec.length);
  sock.write(frame('R', Buffer.concat([len, opts.spec, opts.seccomp ?? Buffer.alloc(0)])));

  let exitedHook: ((scratchPath: string | null) => Promise<void>) | null = null;
  let code: number | null = null;
  const stdout = opts.stdio[1] === 'pipe' ? new PassThrough() : null;
  const stderr = opts.stdio[2] === 'pipe' ? new PassThrough() : null;
  const status = new PassThrough();
  const { events, settle } = readStatus(status, () => (exitedHook ? exitedHook(null) : Promise.resolve()));
  // 'A': the server took the request and runs the command from here on. A connection that ends before
  // it ran nothing (a server that died with it in its backlog, a setup step that failed): a spawned helper may do it.
  let taken: (yes: boolean) => void = () => {};
  const accepted = new Promise<boolean>((resolve) => (taken = resolve));
  sock.on('data', frames((type, payload) => {
    if (type === 'A') taken(true);
    else if (type === '1') stdout?.write(Buffer.from(payload));
    else if (type === '2') stderr?.write(Buffer.from(payload));
    else if (type === 'S') status.write(Buffer.from(payload));
    else if (type === 'X' && payload.length === 4) code = payload.readUInt32BE(0);
  }));
  sock.once('close', () => taken(false));
  if (!(await accepted)) {
    sock.destroy();
    return null;
  }
  const send = (type: string, payload?: Buffer): void => {
    if (!sock.destroyed && sock.writable) sock.write(frame(type, payload));
  };
  let stdin: Writable | null = null;
  if (opts.stdio[0] === 'pipe') {
    stdin = new Writable({
      write(chunk: Buffer, _enc, cb) {
        if (sock.destroyed || !sock.writable) return cb();
        if (sock.write(frame('I', chunk))) cb();
        else sock.once('drain', () => cb());
      },
      final(cb) {
        send('E');
        cb();
      },
    });
  } else {
    send('E');
  }
  const done = new Promise<{ events: HelperEvent[]; code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      status.end();
      stdout?.end();
      stderr?.end();
      // the status lines are parsed by the readline above: let it see the end before we count them
      setImmediate(() => settle().then(() => resolve({ events, code, signal: null }), reject));
    };
    // the server's end of the stream: everything it sent has arrived (it then waits for ours, which Node sends by itself)
    sock.once('end', finish);
    sock.once('close', finish);
  });
  return {
    pid: -1,
    egress: null,
    stdin,
    stdout,
    stderr,
    done,
    onExited(fn) {
      exitedHook = fn;
    },
    events: () => [...events],
    kill() {
      send('K');
    },
    resize(rows, cols) {
      send('C', Buffer.from(`resize ${Math.floor(rows)} ${Math.floor(cols)}\n`));
    },
    signal(n) {
      if (Number.isInteger(n) && n >= 1 && n <= 64) send('C', Buffer.from(`signal ${n}\n`));
    },
  };
}
