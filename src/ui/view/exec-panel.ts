/** Running one command in the selected sandbox: the prompt, then its output and how it ended. */
import { duration, fit } from '../format.js';
import type { ExecPrompt } from '../state/types.js';
import { fill, plain, rule, seg, styled, type StyledLine } from './styled.js';

export function execPanel({ exec, name, width, height }: { exec: ExecPrompt; name: string; width: number; height: number }): StyledLine[] {
  const lines: StyledLine[] = [
    styled(rule(`run a command in ${name} (sh -c; Enter runs it, Esc closes)`, width), { bold: true }),
    exec.running ? plain(`$ ${exec.input}  (running…)`) : [seg(`$ ${exec.input}`), seg(' ', { inverse: true })],
  ];
  const r = exec.result;
  if (r) {
    const room = Math.max(0, height - lines.length - 1);
    for (const l of r.output.slice(-room)) lines.push(plain(fit(l, width)));
    lines.push(styled(`${r.exit} · ${duration(r.duration_ms)}`, { color: r.exit === 'exit 0' ? 'green' : 'red' }));
  }
  return fill(lines, height);
}
