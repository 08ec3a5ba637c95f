/** The root help and "did you mean" for unknown commands, from the manifest (no oclif). */
import { BkgError } from '../../api/errors.js';
import { versionLine, type Manifest } from './manifest.js';

/** The first-level words: commands and topics, with their one-line descriptions. */
function topLevel(m: Manifest): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, t] of Object.entries(m.topics)) out.set(name, t.description);
  for (const c of Object.values(m.commands)) {
    if (c.hidden) continue;
    const [first] = c.id.split(':');
    if (first !== undefined && !c.id.includes(':')) out.set(first, c.summary ?? out.get(first) ?? '');
  }
  return out;
}

export function rootHelp(m: Manifest): string {
  const entries = [...topLevel(m)].sort(([a], [b]) => a.localeCompare(b));
  const width = Math.max(...entries.map(([n]) => n.length));
  return [
    'bkg (the CAVE platform): fast, hardened Linux sandboxes for untrusted code',
    '',
    'USAGE',
    `  $ ${m.bin} COMMAND [ARGS] [FLAGS]`,
    `  $ ${m.bin} help COMMAND      how to use one command (also: ${m.bin} COMMAND --help)`,
    '',
    'COMMANDS',
    ...entries.map(([n, d]) => `  ${n.padEnd(width)}  ${d}`),
    '',
    'VERSION',
    `  ${versionLine(m)}`,
    '',
  ].join('\n');
}


function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      const swap = i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1] ? ((d[i - 2] as number[])[j - 2] as number) + 1 : Infinity;
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1), swap);
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

function nearest(word: string, candidates: Iterable<string>): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(word, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== null && bestD <= Math.max(1, Math.floor(word.length / 3)) + (word.length > 3 ? 1 : 0) ? best : null;
}

/** NOT_FOUND for words that name no command, suggesting the nearest one with the rest of the line (`argv`). */
export function unknownCommand(m: Manifest, words: readonly string[], argv: readonly string[] = words): BkgError {
  const [first = '', second] = words;
  const top = topLevel(m);
  let suggestion: string[] | null = null;
  if (m.topics[first] && second !== undefined) {
    const subs = Object.keys(m.commands).filter((id) => id.startsWith(`${first}:`) && id.split(':').length === 2).map((id) => id.split(':')[1] as string);
    const sub = nearest(second, subs);
    if (sub) suggestion = [first, sub, ...argv.slice(2)];
  } else {
    const near = nearest(first, top.keys());
    if (near) suggestion = [near, ...argv.slice(1)];
  }
  const what = m.topics[first] && second !== undefined ? `${first} ${second}` : first;
  return new BkgError('NOT_FOUND', `"${what}" is not a ${m.bin} command`, {
    hint: suggestion ? `Did you mean \`${m.bin} ${suggestion.join(' ')}\`? (\`${m.bin} --help\` lists the commands.)` : `\`${m.bin} --help\` lists the commands.`,
    details: { command: what },
  });
}
