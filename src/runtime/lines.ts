/**
 * The helper's status lines as they arrive: `onLine` for each '\n'-ended line (a CR before it
 * dropped; a last line without one too), then `onEnd` once, at the stream's end or close. It took
 * node:readline's place here without loading it (the CLI's `run --rm` start pays for every module
 * it loads); unlike readline it does not end a line at a lone CR, which the helper never writes.
 */
import type { Readable } from 'node:stream';

/** Returns `stop`: no more lines and no onEnd after it. */
export function eachLine(input: Readable, onLine: (line: string) => void, onEnd?: () => void): () => void {
  let rest = '';
  let stopped = false;
  const data = (chunk: string): void => {
    const s = rest + chunk;
    let from = 0;
    for (let at = s.indexOf('\n'); at >= 0 && !stopped; at = s.indexOf('\n', from)) {
      onLine(s.charCodeAt(at - 1) === 13 ? s.slice(from, at - 1) : s.slice(from, at));
      from = at + 1;
    }
    rest = stopped ? '' : s.slice(from);
  };
  const stop = (): void => {
    stopped = true;
    input.off('data', data);
    input.off('end', end);
    input.off('close', end);
  };
  function end(): void {
    if (stopped) return;
    if (rest) onLine(rest);
    stop();
    onEnd?.();
  }
  input.setEncoding('utf8');
  input.on('data', data);
  input.once('end', end);
  input.once('close', end);
  return stop;
}
