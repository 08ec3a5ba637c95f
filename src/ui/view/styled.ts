/**
 * A frame as data: lines of styled segments, built by the pure functions of this folder from the
 * state. The React layer (components/) only draws them; two frames compare cheaply, so an event
 * that changes nothing on the screen costs no render at all.
 */
import { fit } from '../format.js';

export type Color = 'green' | 'red' | 'yellow' | 'cyan' | 'gray';

export interface Seg {
  text: string;
  color?: Color | undefined;
  bold?: boolean;
  inverse?: boolean;
  dim?: boolean;
}

/** One line of the frame (cut, never wrapped, at the terminal's edge). */
export type StyledLine = Seg[];

export const seg = (text: string, style: Omit<Seg, 'text'> = {}): Seg => ({ text, ...style });
export const plain = (text: string): StyledLine => [{ text }];
export const styled = (text: string, style: Omit<Seg, 'text'>): StyledLine => [{ text, ...style }];

/** Exactly `height` lines: cut, or filled with empty ones. */
export function fill(lines: StyledLine[], height: number): StyledLine[] {
  const out = lines.slice(0, Math.max(0, height));
  while (out.length < height) out.push([]);
  return out;
}

/** The text of a line, without its styles. */
export const lineText = (l: StyledLine): string => l.map((s) => s.text).join('');

function sameSeg(a: Seg, b: Seg): boolean {
  return a.text === b.text && a.color === b.color && a.bold === b.bold && a.inverse === b.inverse && a.dim === b.dim;
}

/** Whether two frames show the same thing. */
export function sameFrame(a: readonly StyledLine[], b: readonly StyledLine[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as StyledLine;
    const y = b[i] as StyledLine;
    if (x.length !== y.length) return false;
    for (let j = 0; j < x.length; j++) if (!sameSeg(x[j] as Seg, y[j] as Seg)) return false;
  }
  return true;
}

export const STATE_COLOR: Record<string, Color> = { running: 'green', created: 'yellow', stopped: 'gray', failed: 'red' };

/** Green under 70 %, yellow under 90 %, red above. */
export function levelColor(fraction: number | null): Color | undefined {
  if (fraction === null) return undefined;
  return fraction >= 0.9 ? 'red' : fraction >= 0.7 ? 'yellow' : 'green';
}

/** A title line: `── text ─────` to the full width. */
export function rule(text: string, width: number): string {
  const head = `── ${text} `;
  return head.length >= width ? fit(head, width) : head + '─'.repeat(width - head.length);
}
