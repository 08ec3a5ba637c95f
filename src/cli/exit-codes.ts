/** bkg's exit codes for a sandboxed command (documented in README), shared by run, exec and shell. */
export const EXIT_TIMEOUT = 124;
export const EXIT_OOM = 125;

export interface CommandVerdict {
  exitCode: number | null;
  signal: number | null;
  timedOut: boolean;
  oomKilled: boolean;
}

/** The command's own code; 128+N when killed by signal N; 124 on timeout; 125 when out of memory. */
export function exitCodeOf(r: CommandVerdict): number {
  if (r.timedOut) return EXIT_TIMEOUT;
  if (r.oomKilled && (r.signal === 9 || r.exitCode === 137)) return EXIT_OOM;
  if (r.exitCode !== null) return r.exitCode;
  return 128 + (r.signal ?? 9);
}
