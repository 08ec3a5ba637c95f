/** Waiting in tests for something that happens elsewhere (another process, a stream, a peer). */

/**
 * Poll `fn` (sync or async) until it gives something truthy, and return that; after `ms`, fail
 * naming `what`. `every`: the pause between polls.
 */
export async function until<T>(what: string, fn: () => T | null | undefined | false | Promise<T | null | undefined | false>, ms = 20_000, every = 50): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (${ms} ms)`);
    await new Promise((r) => setTimeout(r, every));
  }
}
