/**
 * The WebSocket exec protocol (GET /api/v1/sandboxes/{id}/exec/ws), shared by daemon and client;
 * the frames' schemas are in schema/exec-stream.ts.
 *
 * Text frames carry JSON control messages; binary frames carry data, their first byte naming the
 * stream (0 stdin, client → daemon; 1 stdout and 2 stderr, daemon → client).
 *   client → daemon: {"type":"start", cmd, env?, cwd?, timeout_ms?, tty?, rows?, cols?}   exactly once, first
 *                    {"type":"stdin_eof"}                              close the command's stdin
 *                    {"type":"resize", rows, cols}                     tty only: the terminal's new size
 *                    {"type":"signal", "signal"?}                      signal the command and its process group:
 *                                                                      "INT", "TERM", "HUP", "QUIT", "USR1", "USR2"
 *                                                                      (it decides what happens); absent or "KILL": end it now
 * With tty the command runs on a terminal (its own devpts inside the sandbox): stdout frames carry
 * everything it writes, and Ctrl-C etc. arrive as bytes on stdin, as on any terminal.
 *   daemon → client: {"type":"exit", exit_code, signal, timed_out, oom_killed, limits_hit, duration_ms}   last, then close 1000
 *                    {"type":"error", error: {code, message, hint}}                                      then close 4000
 */
export const STREAM_STDIN = 0;
export const STREAM_STDOUT = 1;
export const STREAM_STDERR = 2;

/** The signals a client may send (Linux numbers); anything else is refused. */
export const SIGNALS = { HUP: 1, INT: 2, QUIT: 3, KILL: 9, USR1: 10, USR2: 12, TERM: 15 } as const;
export type SignalName = keyof typeof SIGNALS;

export type { ExitFrame, StartFrame } from './schema/exec-stream.js';
