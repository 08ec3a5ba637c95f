/** `?`: every key binding this key may use, by where it works (the footer says any key closes it). */
import { fit } from '../format.js';
import type { Binding } from '../state/keys.js';
import { fill, plain, styled, type StyledLine } from './styled.js';

const WHERE: Record<Binding['view'], string> = { all: 'Everywhere', sandboxes: 'Sandboxes (1)', keys: 'Keys (2)', audit: 'Audit (3)', models: 'Models (4)' };

export function helpLines({ bindings, width, height, readonly }: { bindings: Binding[]; width: number; height: number; readonly: boolean }): StyledLine[] {
  const keyW = Math.min(22, Math.max(...bindings.map((b) => b.keys.length)) + 2);
  const lines: StyledLine[] = [];
  let where: string | null = null;
  for (const b of bindings) {
    if (b.view !== where) {
      where = b.view;
      lines.push(styled(WHERE[b.view], { bold: true }));
    }
    lines.push(plain(`  ${fit(b.keys, keyW)}${fit(b.what, Math.max(0, width - keyW - 2))}`));
  }
  if (readonly) lines.push(plain('  (this API key only reads: the actions on sandboxes are hidden)'));
  return fill(lines, height);
}
