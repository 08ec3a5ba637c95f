/**
 * The interactive dashboard: the store, the controller and the ink app on the alternate screen.
 * This module (with ink and React) is what the build bundles into one file for a fast start
 * (scripts/bundle-ui.mjs); src/ui/launch.ts loads it once it knows a terminal is there.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { render, type Instance } from 'ink';
import { App } from './components/App.js';
import { themeFromEnv } from './components/theme.js';
import { Controller } from './controller.js';
import type { FeedSink } from './data/live.js';
import type { DashboardClient } from './data/snapshot.js';
import { initialState, type Snapshot } from './state/reducer.js';
import { Store } from './state/store.js';
import type { DashboardState } from './state/types.js';
import { TerminalScreen } from './terminal.js';

export interface RunAppOptions {
  client: DashboardClient;
  /** The first snapshot, already on its way. */
  snapshot: Promise<Snapshot>;
  /** Open the event stream (after the first frame: it loads the contract's schemas, ~70 ms). */
  follow(): Promise<{ attach(sink: FeedSink): void }>;
  /** Where the daemon is, for the header. */
  endpoint: string;
  /** bin/run.js: `bkg shell NAME` runs as its child. */
  binPath: string;
  env: NodeJS.ProcessEnv;
  sort?: DashboardState['ui']['sort'];
  filter?: string;
  /** Called once the first frame with the snapshot is on the screen. */
  onFirstFrame?: () => void;
}

/** Run `bkg shell NAME` on this terminal, as a child with our stdio; its exit code. */
export function runShell(binPath: string, name: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [binPath, 'shell', name], { stdio: 'inherit', env });
    child.on('error', () => resolve(1));
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
}

/** The dashboard until q: resolves with the error that ended it, or null. */
export async function runApp(o: RunAppOptions): Promise<unknown> {
  const store = new Store(initialState(o.endpoint, Date.now(), { ...(o.sort ? { sort: o.sort } : {}), ...(o.filter ? { filter: o.filter } : {}) }));
  const screen = new TerminalScreen();
  const theme = themeFromEnv(o.env);
  let instance: Instance | null = null;
  let finish: (err: unknown) => void = () => {};
  const done = new Promise<unknown>((resolve) => (finish = resolve));

  const mount = (): void => {
    instance = render(<App store={store} onKey={(input, key) => controller.key(input, key)} theme={theme} />, {
      stdin: screen.keys(),
      exitOnCtrlC: false,
      patchConsole: false,
      maxFps: 10,
      // (ink's incremental mode drew changed lines a row off on the alternate screen: whole frames it is;
      // they are drawn only when something on them changed, see components/App.tsx)
      incrementalRendering: false,
    });
    // a component that throws ends ink; end the dashboard with its error (our own unmount resolves instead)
    instance.waitUntilExit().catch((err: unknown) => finish(err));
  };
  const unmount = async (): Promise<void> => {
    const i = instance;
    instance = null;
    if (!i) return;
    i.unmount();
    await i.waitUntilExit().catch(() => {});
  };

  const controller: Controller = new Controller({
    store,
    client: o.client,
    snapshot: o.snapshot,
    now: () => Date.now(),
    timers: { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (t) => clearTimeout(t as ReturnType<typeof setTimeout>) },
    quit: (err) => finish(err ?? null),
    shell: async (name) => {
      await unmount();
      screen.handOver();
      try {
        return await runShell(o.binPath, name, o.env);
      } finally {
        screen.takeBack();
        mount();
      }
    },
  });

  try {
    // the snapshot first: a daemon that cannot be read is an error on the plain terminal, not a flash of the dashboard
    await controller.start();
    screen.enter();
    mount();
    o.onFirstFrame?.();
    o.follow().then((feed) => controller.follow(feed), (err: unknown) => finish(err));
    return await done;
  } catch (err) {
    return err;
  } finally {
    controller.close();
    await unmount();
    store.close();
    screen.restore();
  }
}
