/**
 * The dashboard's data path against a real daemon, without a terminal: the snapshot, then the event
 * stream into the store; a dropped stream reconnects with since/run and gets what it missed
 * replayed; a restarted daemon (another run) is a gap, and the snapshot is loaded again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaemonClient } from '../../src/client/daemon-client.js';
import { resolveEndpoint } from '../../src/client/endpoint.js';
import { openEventStream } from '../../src/client/events.js';
import { Controller } from '../../src/ui/controller.js';
import { LiveFeed, type EventStreamOptions, type OpenEventStream } from '../../src/ui/data/live.js';
import { loadSnapshot } from '../../src/ui/data/snapshot.js';
import { initialState } from '../../src/ui/state/reducer.js';
import { Store } from '../../src/ui/state/store.js';
import type { DashboardState } from '../../src/ui/state/types.js';
import { removeHome, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';
import { until } from '../helpers/until.js';

const skip = sandboxSkipReason();

describe.skipIf(skip)('the dashboard\'s live data, against a real daemon', () => {
  let d: TestDaemon;
  let client: DaemonClient;
  let store: Store;
  let controller: Controller;
  let feed: LiveFeed;
  /** Every stream the feed opened, with what it asked for. */
  const opened: { opts: EventStreamOptions; stream: { close(): void } }[] = [];
  const open: OpenEventStream = (ep, opts, h) => {
    const stream = openEventStream(ep, opts, h);
    opened.push({ opts, stream });
    return stream;
  };
  const rows = (s: DashboardState = store.get()): string[] => Object.values(s.sandboxes).map((r) => r.name).sort();

  beforeAll(async () => {
    d = await startTestDaemon();
    client = new DaemonClient({ endpoint: resolveEndpoint({ BKG_HOME: d.home }), autoStart: false });
    await client.createSandbox({ name: 'first' });
    store = new Store(initialState(client.endpoint.url, Date.now()), 0);
    controller = new Controller({
      store, client, snapshot: loadSnapshot(client, Date.now), now: Date.now,
      shell: async () => 0, quit: () => {},
      timers: { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (t) => clearTimeout(t as ReturnType<typeof setTimeout>) },
    });
    await controller.start();
    feed = new LiveFeed(open, client.endpoint);
    feed.start();
    controller.follow(feed);
  });
  afterAll(async () => {
    controller.close();
    feed.close();
    store.close();
    for (const name of ['first', 'second', 'third']) await client.removeSandbox(name).catch(() => {});
    await client.close();
    await d.stop();
    removeHome(d.home);
  });

  it('starts from the snapshot and follows the stream: a new sandbox shows up from its event', async () => {
    expect(rows()).toEqual(['first']);
    await until('the stream to be live', () => store.get().connection.status === 'live');
    expect(opened[0]?.opts).toEqual({});
    await client.createSandbox({ name: 'second' });
    await until('second to appear', () => rows().includes('second'));
    // its view (limits, runtime) comes from REST once the event named it
    await until('second\'s view', () => Object.values(store.get().sandboxes).find((r) => r.name === 'second')?.view !== null);
  });

  it('keys typed together arrive as one input: each is its own key press (outside a text field)', () => {
    controller.key('j3', {});
    expect(store.get().ui.view).toBe('audit');
    controller.key('1/fi', {});
    expect(store.get().ui).toMatchObject({ view: 'sandboxes', filtering: true, filter: 'fi' });
    controller.key('rst', {}); // typed into the filter as it is
    expect(store.get().ui.filter).toBe('first');
    controller.key('', { escape: true });
    expect(store.get().ui).toMatchObject({ filtering: false, filter: '' });
  });

  it('a dropped stream reconnects with since/run and gets what it missed replayed', async () => {
    const { run, lastId } = feed.position();
    expect(run).toBe(store.get().connection.run);
    opened[0]?.stream.close(); // as if the connection dropped
    await client.createSandbox({ name: 'third' }); // while the feed waits to reconnect
    await until('a second stream', () => opened.length === 2);
    expect(opened[1]?.opts).toEqual({ since: lastId, run });
    await until('third, replayed', () => rows().includes('third'));
    expect(store.get().connection).toMatchObject({ status: 'live', run });
    expect(feed.position().lastId).toBeGreaterThan(lastId);
  });

  it('a restarted daemon is another run: a gap, and the snapshot is loaded again', async () => {
    const before = store.get().connection.run;
    await d.stop();
    await until('the dashboard to see the stream down', () => store.get().connection.status === 'reconnecting');
    d = await startTestDaemon({ home: d.home });
    await until('the stream live on the new run', () => store.get().connection.status === 'live' && store.get().connection.run !== before, 20_000);
    const last = opened.at(-1);
    expect(last?.opts).toMatchObject({ run: before, since: expect.any(Number) });
    await until('the snapshot reloaded', () => store.get().ui.flash?.text.startsWith('missed events') === true);
    expect(rows()).toEqual(['first', 'second', 'third']);
    // and it goes on live from the new run
    await client.removeSandbox('third');
    await until('third to go', () => !rows().includes('third'));
  });
});
