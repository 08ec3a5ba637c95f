/**
 * A terminal of a chosen size for ink (what ink-testing-library gives, at 100 columns only): it
 * keeps the frames written, can be resized (emitting 'resize' as a real one does), and takes keys.
 */
import { EventEmitter } from 'node:events';
import { render, type Instance } from 'ink';
import type { ReactNode } from 'react';

class Screen extends EventEmitter {
  frames: string[] = [];
  constructor(public columns: number, public rows: number) {
    super();
  }
  write = (frame: string): boolean => {
    this.frames.push(frame);
    return true;
  };
}

class Keys extends EventEmitter {
  isTTY = true;
  private data: string | null = null;
  write(data: string): void {
    this.data = data;
    this.emit('readable');
    this.emit('data', data);
  }
  read = (): string | null => {
    const d = this.data;
    this.data = null;
    return d;
  };
  setEncoding(): void {}
  setRawMode(): void {}
  resume(): void {}
  pause(): void {}
  ref(): void {}
  unref(): void {}
}

export interface SizedTerminal {
  lastFrame(): string;
  /** How many times ink has drawn (React committed a change). */
  renders(): number;
  press(keys: string): Promise<void>;
  resize(columns: number, rows: number): Promise<void>;
  unmount(): void;
}

/** Ink renders asynchronously after input and resizes: give it a moment. */
export const settle = (ms = 30): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function renderSized(tree: ReactNode, columns: number, rows: number): SizedTerminal {
  const stdout = new Screen(columns, rows);
  const stdin = new Keys();
  let renders = 0;
  const instance: Instance = render(tree, {
    stdout: stdout as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    stderr: new Screen(columns, rows) as unknown as NodeJS.WriteStream,
    debug: true,
    exitOnCtrlC: false,
    patchConsole: false,
    onRender: () => {
      renders++;
    },
  });
  return {
    lastFrame: () => stdout.frames.at(-1) ?? '',
    renders: () => renders,
    async press(keys) {
      stdin.write(keys);
      await settle();
    },
    async resize(c, r) {
      stdout.columns = c;
      stdout.rows = r;
      stdout.emit('resize');
      await settle();
    },
    unmount: () => instance.unmount(),
  };
}
