/** Streamed exec over WebSocket: stdin in, stdout and stderr apart, a final exit frame. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { call, removeHome, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();

interface Session {
  stdout: string;
  stderr: string;
  control: Record<string, unknown>[];
  code: number;
}

function open(d: TestDaemon, name: string): WebSocket {
  return new WebSocket(`ws+unix://${d.config.socketPath}:/api/v1/sandboxes/${name}/exec/ws`);
}

function collect(ws: WebSocket): Promise<Session> {
  const s: Session = { stdout: '', stderr: '', control: [], code: 0 };
  ws.on('message', (data: Buffer, isBinary) => {
    if (!isBinary) s.control.push(JSON.parse(data.toString()) as Record<string, unknown>);
    else if (data[0] === 1) s.stdout += data.subarray(1).toString();
    else if (data[0] === 2) s.stderr += data.subarray(1).toString();
  });
  return new Promise((resolve) => ws.on('close', (code) => resolve({ ...s, code })));
}

describe.skipIf(skip)('exec over WebSocket', () => {
  let d: TestDaemon;
  beforeAll(async () => {
    d = await startTestDaemon();
    await call(d.local, 'POST', '/api/v1/sandboxes', { name: 'ws' });
    await call(d.local, 'POST', '/api/v1/sandboxes/ws/start');
  });
  afterAll(async () => {
    await call(d.local, 'DELETE', '/api/v1/sandboxes/ws');
    await d.stop();
    removeHome(d.home);
  });

  it('streams stdin, stdout and stderr separately and ends with an exit frame', async () => {
    const ws = open(d, 'ws');
    const done = collect(ws);
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'start', cmd: ['sh', '-c', 'read line; echo "got $line"; echo oops >&2; cat; exit 3'] }));
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('hello\n')]));
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('rest of stdin')]));
    ws.send(JSON.stringify({ type: 'stdin_eof' }));
    const s = await done;
    expect(s.stdout).toBe('got hello\nrest of stdin');
    expect(s.stderr).toBe('oops\n');
    expect(s.control.at(-1)).toMatchObject({ type: 'exit', exit_code: 3, signal: null, timed_out: false });
    expect(s.code).toBe(1000);
  });

  it('ends the command on a signal frame', async () => {
    const ws = open(d, 'ws');
    const done = collect(ws);
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'start', cmd: ['sh', '-c', 'echo ready; sleep 30'] }));
    await new Promise<void>((r) => ws.on('message', (data: Buffer, bin) => bin && data.subarray(1).toString().includes('ready') && r()));
    const t0 = Date.now();
    ws.send(JSON.stringify({ type: 'signal' }));
    const s = await done;
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(s.control.at(-1)).toMatchObject({ type: 'exit', signal: 9 });
  });

  it('ends the command when the client drops the connection mid-command, and records it as killed', async () => {
    const marker = `300.${String(Date.now() % 1_000_000).padStart(6, '1')}`; // a sleep no other test runs
    const ws = open(d, 'ws');
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'start', cmd: ['sh', '-c', `echo ready; exec sleep ${marker}`] }));
    await new Promise<void>((r) => ws.on('message', (data: Buffer, bin) => bin && data.subarray(1).toString().includes('ready') && r()));
    const running = async (): Promise<boolean> => {
      const r = (await call(d.local, 'POST', '/api/v1/sandboxes/ws/exec', { cmd: ['sh', '-c', 'cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" "\\n"'] })).body as { stdout: string };
      return r.stdout.split('\n').includes(marker);
    };
    // seen running first (otherwise the check below would prove nothing)
    const deadline = Date.now() + 5000;
    while (!(await running()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await running()).toBe(true);
    ws.terminate(); // no close frame: the TCP connection just goes away
    const gone = Date.now() + 10_000;
    while ((await running()) && Date.now() < gone) await new Promise((r) => setTimeout(r, 100));
    expect(await running()).toBe(false);
    // the execution is recorded as ended by a signal, not as a clean exit
    let exec: { cmd: string[]; exit_code: number | null; signal: string | null } | undefined;
    while (Date.now() < gone) {
      const logs = (await call(d.local, 'GET', '/api/v1/sandboxes/ws/logs')).body as { executions: { cmd: string[]; exit_code: number | null; signal: string | null; duration_ms: number | null }[] };
      exec = logs.executions.find((e) => e.cmd.join(' ').includes(marker));
      if (exec && (exec.exit_code !== null || exec.signal !== null)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(exec).toBeDefined();
    expect(exec?.exit_code).not.toBe(0);
    expect(exec?.signal !== null || (exec?.exit_code ?? 0) > 128).toBe(true);
  });

  it('reports bad input as an error frame, and refuses unknown sandboxes before upgrading', async () => {
    const ws = open(d, 'ws');
    const done = collect(ws);
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'start', cmd: 'not-an-array' }));
    const s = await done;
    expect(s.control[0]).toMatchObject({ type: 'error', error: { code: 'INVALID_ARGUMENT' } });
    expect(s.code).toBe(4000);
    const missing = open(d, 'nope');
    const status = await new Promise<number>((resolve) => missing.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)).on('open', () => resolve(101)));
    expect(status).toBe(101); // the sandbox is looked up after the start frame…
    const closed = collect(missing);
    missing.send(JSON.stringify({ type: 'start', cmd: ['true'] }));
    expect((await closed).control[0]).toMatchObject({ type: 'error', error: { code: 'NOT_FOUND' } });
  });
});

describe.skipIf(skip)('exec over WebSocket with a terminal', () => {
  let d: TestDaemon;
  beforeAll(async () => {
    d = await startTestDaemon();
    await call(d.local, 'POST', '/api/v1/sandboxes', { name: 'tty' });
    await call(d.local, 'POST', '/api/v1/sandboxes/tty/start');
  });
  afterAll(async () => {
    await call(d.local, 'DELETE', '/api/v1/sandboxes/tty');
    await d.stop();
    removeHome(d.home);
  });

  it('runs on a pty: tty(1) answers, resize reaches stty, Ctrl-C interrupts, exit code arrives', async () => {
    const ws = open(d, 'tty');
    const done = collect(ws);
    let seen = '';
    const waitFor = (text: string): Promise<void> =>
      new Promise((resolve) => {
        const check = (data: Buffer, bin: boolean): void => {
          if (bin) seen += data.subarray(1).toString();
          if (seen.includes(text)) {
            ws.off('message', check);
            resolve();
          }
        };
        ws.on('message', check);
        check(Buffer.from([1]), true);
      });
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'start', cmd: ['/bin/sh', '-c', 'tty; stty size; echo READY; read x; stty size; trap "echo INTERRUPTED; exit 7" INT; echo WAITING; sleep 30 & wait'], tty: true, rows: 30, cols: 100 }));
    await waitFor('READY');
    expect(seen).toMatch(/\/dev\/pts\/\d+/);
    expect(seen).toContain('30 100');
    ws.send(JSON.stringify({ type: 'resize', rows: 50, cols: 132 }));
    await new Promise((r) => setTimeout(r, 100));
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('go\r')]));
    await waitFor('WAITING');
    expect(seen).toContain('50 132');
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from([3])])); // Ctrl-C on the terminal
    const s = await done;
    expect(seen + s.stdout).toContain('INTERRUPTED');
    expect(s.control.at(-1)).toMatchObject({ type: 'exit', exit_code: 7 });
  });
});
