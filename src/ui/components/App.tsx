/**
 * The dashboard on the terminal: the frame of view/frame.ts drawn with ink, one Text per line.
 * The frame is recomputed on every change of the state or of the terminal's size, and drawn only
 * when it differs from the one on the screen (an idle dashboard whose numbers do not move costs no
 * render). Key presses go to `onKey`.
 */
import { Box, Text, useInput, useStdout } from 'ink';
import { useCallback, useEffect, useRef, useState, useSyncExternalStore, type ReactNode } from 'react';
import type { KeyPress } from '../state/keys.js';
import type { Store } from '../state/store.js';
import type { DashboardState } from '../state/types.js';
import { frame } from '../view/frame.js';
import { sameFrame, type Seg, type StyledLine } from '../view/styled.js';
import type { Theme } from './theme.js';

/** The terminal's size, following resizes (80×24 when the stream does not say). */
export function useTerminalSize(): { columns: number; rows: number } {
  const { stdout } = useStdout();
  const read = useCallback((): { columns: number; rows: number } => ({ columns: stdout.columns || 80, rows: stdout.rows || 24 }), [stdout]);
  const [size, setSize] = useState(read);
  useEffect(() => {
    const onResize = (): void => setSize(read());
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout, read]);
  return size;
}

function styleOf(s: Seg, theme: Theme): Record<string, unknown> {
  if (!theme.color) return {};
  return { ...(s.color ? { color: s.color } : {}), ...(s.bold ? { bold: true } : {}), ...(s.inverse ? { inverse: true } : {}), ...(s.dim ? { dimColor: true } : {}) };
}

/** Draw lines: each one Text, cut at the edge (never wrapped). */
export function Lines({ lines, theme, columns }: { lines: StyledLine[]; theme: Theme; columns: number }): ReactNode {
  return (
    <Box flexDirection="column" width={columns} height={lines.length}>
      {lines.map((l, i) => (
        <Text key={i} wrap="truncate">
          {l.length === 0 ? ' ' : l.map((s, j) => {
            const style = styleOf(s, theme);
            return Object.keys(style).length === 0 ? s.text : <Text key={j} {...style}>{s.text}</Text>;
          })}
        </Text>
      ))}
    </Box>
  );
}

/** The frame for a state at a size (tests draw it directly too). */
export function Frame({ s, columns, rows, theme }: { s: DashboardState; columns: number; rows: number; theme: Theme }): ReactNode {
  return <Lines lines={frame(s, columns, rows)} theme={theme} columns={columns} />;
}

export interface AppProps {
  store: Store;
  onKey(input: string, key: KeyPress): void;
  theme: Theme;
}

export function App({ store, onKey, theme }: AppProps): ReactNode {
  const { columns, rows } = useTerminalSize();
  // the frame of the store's state, the same object as long as what it shows is the same
  const last = useRef<{ lines: StyledLine[]; columns: number; rows: number } | null>(null);
  const current = useCallback((): StyledLine[] => {
    const lines = frame(store.get(), columns, rows);
    const prev = last.current;
    if (prev && prev.columns === columns && prev.rows === rows && sameFrame(prev.lines, lines)) return prev.lines;
    last.current = { lines, columns, rows };
    return lines;
  }, [store, columns, rows]);
  const lines = useSyncExternalStore(store.subscribe, current);
  useInput((input, key) => onKey(input, key));
  return <Lines lines={lines} theme={theme} columns={columns} />;
}
