/** The helper's status lines, split as they arrive (src/runtime/lines.ts). */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { eachLine } from '../../src/runtime/lines.js';

function feed(chunks: (string | Buffer)[], stopAfter?: number): Promise<{ lines: string[]; ended: boolean }> {
  const input = new PassThrough();
  const lines: string[] = [];
  return new Promise((resolve) => {
    let ended = false;
    const stop = eachLine(input, (l) => {
      lines.push(l);
      if (lines.length === stopAfter) {
        stop();
        setImmediate(() => resolve({ lines, ended }));
      }
    }, () => {
      ended = true;
      resolve({ lines, ended });
    });
    for (const c of chunks) input.write(c);
    input.end();
  });
}

describe('eachLine', () => {
  it('gives each line once, whatever the chunks, then the end', async () => {
    expect(await feed(['{"type":"sta', 'rted"}\n{"type":"ready"}\n', '{"type":"exi', 'ted"}\n'])).toEqual({ lines: ['{"type":"started"}', '{"type":"ready"}', '{"type":"exited"}'], ended: true });
  });

  it('keeps a last line without its newline, drops CR before LF, keeps empty lines, and a character split across chunks whole', async () => {
    const word = Buffer.from('Grüße\n');
    expect(await feed(['a\r\nb\n\n', word.subarray(0, 3), word.subarray(3), 'tail'])).toEqual({ lines: ['a', 'b', '', 'Grüße', 'tail'], ended: true });
  });

  it('stops: no line and no end after stop()', async () => {
    expect(await feed(['1\n2\n3\n'], 2)).toEqual({ lines: ['1', '2'], ended: false });
  });
});
