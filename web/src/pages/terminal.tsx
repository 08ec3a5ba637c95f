/**
 * A terminal into a running sandbox: xterm.js over the WebSocket exec (GET
 * /api/v1/sandboxes/{id}/exec/ws) with a TTY. The browser cannot send an Authorization header on a
 * WebSocket, so the key travels as the subprotocol `bkg.bearer.<key>` after a plain `bkg` (the one
 * the daemon echoes) — never in the URL.
 */
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { useEffect, useRef, useState } from 'react';
import { go } from '../route';
import { useSession } from '../session';

const SHELL = ['/bin/sh', '-c', 'if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi'];

export function TerminalPage({ sandbox }: { sandbox: string }) {
  const { key } = useSession();
  const box = useRef<HTMLDivElement>(null);
  const [state, setState] = useState('connecting…');
  const [session, setSession] = useState(0);

  useEffect(() => {
    if (!box.current || !sandbox) return;
    const dark = matchMedia('(prefers-color-scheme: dark)').matches;
    const term = new Terminal({
      cursorBlink: true,
      fontSize: 14,
      convertEol: false,
      theme: dark ? { background: '#111418', foreground: '#e6e6e6' } : { background: '#fbfbfb', foreground: '#1d1d1f', cursor: '#1d1d1f', selectionBackground: '#b4d5fe' },
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(box.current);
    fit.fit();
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/sandboxes/${encodeURIComponent(sandbox)}/exec/ws`;
    const ws = new WebSocket(url, ['bkg', `bkg.bearer.${key}`]);
    ws.binaryType = 'arraybuffer';
    const enc = new TextEncoder();
    ws.onopen = () => {
      setState('connected');
      ws.send(JSON.stringify({ type: 'start', cmd: SHELL, tty: true, rows: term.rows, cols: term.cols }));
      term.focus();
    };
    ws.onmessage = (m: MessageEvent<ArrayBuffer | string>) => {
      if (typeof m.data === 'string') {
        const msg = JSON.parse(m.data) as { type: string; exit_code?: number | null; signal?: string | null; error?: { message: string } };
        if (msg.type === 'exit') {
          term.write(`\r\n[exited${msg.exit_code !== null && msg.exit_code !== undefined ? ` with ${msg.exit_code}` : ''}${msg.signal ? ` by ${msg.signal}` : ''}]\r\n`);
          setState('exited');
        } else if (msg.type === 'error') {
          term.write(`\r\n[error: ${msg.error?.message ?? 'unknown'}]\r\n`);
          setState(`error: ${msg.error?.message ?? 'unknown'}`);
        }
        return;
      }
      const bytes = new Uint8Array(m.data);
      if (bytes[0] === 1 || bytes[0] === 2) term.write(bytes.subarray(1));
    };
    ws.onclose = (e) => setState((s) => (s === 'connected' ? `closed (${e.code})` : s === 'connecting…' ? 'refused: the sandbox must be running and the key may run commands in it' : s));
    const input = term.onData((d) => {
      if (ws.readyState !== WebSocket.OPEN) return;
      const data = enc.encode(d);
      const frame = new Uint8Array(data.length + 1);
      frame[0] = 0;
      frame.set(data, 1);
      ws.send(frame);
    });
    const resize = term.onResize(({ rows, cols }) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'resize', rows, cols }));
    });
    const observer = new ResizeObserver(() => fit.fit());
    observer.observe(box.current);
    return () => {
      observer.disconnect();
      input.dispose();
      resize.dispose();
      ws.close();
      term.dispose();
    };
  }, [key, sandbox, session]);

  return (
    <section aria-labelledby="term-title" className="terminal-page">
      <div className="inline">
        <h1 id="term-title">Terminal: {sandbox}</h1>
        <span role="status" className="muted" data-testid="term-state">{state}</span>
        <button type="button" className="quiet" onClick={() => setSession((n) => n + 1)}>Reconnect</button>
        <button type="button" className="quiet" onClick={() => go('changes', sandbox)}>Changes</button>
        <button type="button" className="quiet" onClick={() => go('sandboxes')}>Back</button>
      </div>
      <div className="term" ref={box} data-testid="terminal" />
    </section>
  );
}
