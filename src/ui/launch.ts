/**
 * `bkg dashboard` (alias `bkg top`) from the command line: checks the flags and the terminal, then
 * either prints one snapshot (`--once`, `--once --json`) or starts the interactive dashboard. For a
 * fast first frame, the snapshot is on its way while ink loads (from one bundled file when the
 * build made it: dist/ui/app.bundle.js, see scripts/bundle-ui.mjs), and the event stream opens
 * after the first frame.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BkgError } from '../api/errors.js';
import { DEFAULT_BIN } from '../client/ensure-daemon.js';
import { withDaemonClient } from '../cli/client.js';
import { LiveFeed } from './data/live.js';
import { DEFAULT_DESC } from './state/select.js';
import { SORT_COLUMNS, type DashboardState, type SortColumn } from './state/types.js';

export interface DashboardFlags {
  once: boolean;
  json: boolean;
  /** A column, or -column for the reverse order. */
  sort?: string | undefined;
  filter?: string | undefined;
}

/** `--sort cpu` (busiest first), `--sort -name` (reverse). */
export function parseSort(raw: string | undefined): DashboardState['ui']['sort'] | undefined {
  if (raw === undefined) return undefined;
  const reverse = raw.startsWith('-');
  const column = (reverse ? raw.slice(1) : raw) as SortColumn;
  if (!SORT_COLUMNS.includes(column)) {
    throw new BkgError('INVALID_ARGUMENT', `--sort: "${raw}" is not a column to sort by`, { hint: `Use one of ${SORT_COLUMNS.join(', ')} (a leading - reverses the order).`, details: { flag: 'sort' } });
  }
  return { column, desc: reverse !== DEFAULT_DESC[column] };
}

/** Outside a terminal the dashboard cannot run: say what does instead. */
export function notATerminal(): BkgError {
  return new BkgError('INVALID_ARGUMENT', 'bkg dashboard needs a terminal: its input or output is not one (a pipe, a file, or no terminal at all)', {
    hint: 'Run it in a terminal; for scripts and pipes, `bkg dashboard --once` prints one snapshot as a table and `bkg dashboard --once --json` as JSON.',
    details: { stdin_tty: process.stdin.isTTY === true, stdout_tty: process.stdout.isTTY === true },
  });
}

type AppModule = typeof import('./app.js');

/**
 * The interactive part: the bundle when the build made one, else the modules as compiled. Two
 * things in ink's world are decided once, as it loads, and are wrong for the dashboard:
 * - ink takes CI or CONTINUOUS_INTEGRATION in the environment to mean "no terminal" and then draws
 *   only the last frame, at exit; the dashboard runs only on a terminal it has checked;
 * - yoga (ink's layout engine, its wasm inlined as base64) fetch()es its own data: URL when fetch
 *   exists, which loads Node's whole fetch implementation first (~100 ms of the first frame);
 *   without it, yoga decodes the base64 itself.
 * So ink loads without those variables and without fetch, all put back at once (children and the
 * rest of the process see them as they were).
 */
async function loadApp(env: NodeJS.ProcessEnv): Promise<AppModule> {
  const bundle = new URL('./app.bundle.js', import.meta.url);
  const ci = { CI: env.CI, CONTINUOUS_INTEGRATION: env.CONTINUOUS_INTEGRATION };
  const fetch = Object.getOwnPropertyDescriptor(globalThis, 'fetch');
  delete env.CI;
  delete env.CONTINUOUS_INTEGRATION;
  if (fetch?.configurable) Object.defineProperty(globalThis, 'fetch', { value: undefined, configurable: true, writable: true });
  try {
    if (existsSync(fileURLToPath(bundle))) return (await import(bundle.href)) as AppModule;
    return await import('./app.js');
  } finally {
    for (const [k, v] of Object.entries(ci)) if (v !== undefined) env[k] = v;
    if (fetch?.configurable) Object.defineProperty(globalThis, 'fetch', fetch);
  }
}

export async function dashboard(flags: DashboardFlags, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const sort = parseSort(flags.sort);
  if (flags.json && !flags.once) throw new BkgError('INVALID_ARGUMENT', '--json needs --once (the interactive dashboard has no JSON form)', { hint: 'Use `bkg dashboard --once --json` for one snapshot as JSON.', details: { flag: 'json' } });
  const filter = flags.filter ? { filter: flags.filter } : {};
  if (flags.once) {
    return withDaemonClient(async (client) => {
      const [{ once }, { openEventStream }] = await Promise.all([import('./once.js'), import('../client/events.js')]);
      return once(client, openEventStream, { json: flags.json, ...(sort ? { sort } : {}), ...filter });
    }, { binPath: DEFAULT_BIN });
  }
  if (!process.stdout.isTTY || !process.stdin.isTTY) throw notATerminal();
  return withDaemonClient(async (client) => {
    // the snapshot is on its way while ink loads; the stream opens after the first frame
    const snapshot = import('./data/snapshot.js').then(({ loadSnapshot }) => loadSnapshot(client, Date.now));
    snapshot.catch(() => {}); // awaited by the app; never an unhandled rejection meanwhile
    let feed: LiveFeed | null = null;
    let quit = false;
    const follow = async (): Promise<LiveFeed> => {
      const { openEventStream } = await import('../client/events.js');
      feed = new LiveFeed(openEventStream, client.endpoint);
      if (!quit) feed.start(); // (no stream for a dashboard already gone)
      return feed;
    };
    try {
      const { runApp } = await loadApp(process.env);
      const err = await runApp({ client, snapshot, follow, endpoint: client.endpoint.url, binPath: DEFAULT_BIN, env, ...(sort ? { sort } : {}), ...filter });
      if (err) throw err;
      return 0;
    } finally {
      quit = true;
      (feed as LiveFeed | null)?.close();
    }
  }, { binPath: DEFAULT_BIN });
}
