/** The helper's status lines: one JSON event per line, on the status descriptor. */

export interface ChangeEvent {
  type: 'change';
  path: string;
  kind: 'added' | 'modified' | 'deleted';
  file_type: 'file' | 'dir' | 'symlink' | 'other';
}
export interface ErrorEvent {
  type: 'error';
  stage: string;
  errno: number;
  message: string;
}
export interface ExitedEvent {
  type: 'exited';
  exit_code: number | null;
  signal: number | null;
  timed_out: boolean;
  killed_by: number;
  duration_ms: number;
  scratch_fd?: number;
  /** Run (not exec): whether the scratch tmpfs (the disk limit) was full when the command ended. */
  disk_full?: boolean;
  files: Record<string, string | null>;
}
export interface ReadyEvent {
  type: 'ready';
  scratch_fd?: number;
}
export interface StartedEvent {
  type: 'started';
  pid: number;
}
export type HelperEvent = StartedEvent | ReadyEvent | ChangeEvent | ErrorEvent | ExitedEvent;

/** Parse one status line; a line that is not JSON becomes a protocol error event. */
export function parseStatusLine(line: string): HelperEvent {
  try {
    return JSON.parse(line) as HelperEvent;
  } catch {
    return { type: 'error', stage: 'protocol', errno: 0, message: `unparseable status line: ${line.slice(0, 200)}` };
  }
}
