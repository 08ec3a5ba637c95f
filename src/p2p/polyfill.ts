/**
 * js-libp2p v3 calls Promise.withResolvers (Node 22+). On Node 20 it is added here, only when
 * missing, and only once P2P is enabled: load.ts imports this module before any libp2p module.
 */
interface WithResolvers {
  withResolvers?: unknown;
}

if (typeof (Promise as unknown as WithResolvers).withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T>(this: PromiseConstructor) {
      let resolve!: (v: T | PromiseLike<T>) => void;
      let reject!: (e?: unknown) => void;
      const promise = new this<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

export {};
