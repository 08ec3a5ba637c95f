/** The daemon serves the wire contract whole: every route of src/api/routes.ts bound once, nothing bound beside it. */
import { ALL_ROUTES } from '../../api/routes.js';
import type { Router } from './router.js';

export function assertServesContract<P, A extends string>(router: Router<P, A>): void {
  const bound = router.routes();
  const key = (method: string, path: string): string => `${method} ${path}`;
  const declared = new Set(ALL_ROUTES.map((r) => key(r.method, r.path)));
  // the WebSocket exec is served on the servers' upgrade event, not by the router
  const missing = ALL_ROUTES.filter((r) => r.responses[101] === undefined && !bound.some((b) => b.spec === r));
  const extra = bound.filter((b) => !b.spec || !declared.has(key(b.method, b.pattern)));
  if (missing.length || extra.length) {
    throw new Error(`the daemon's routes differ from the contract: ${[...missing.map((r) => `unbound ${key(r.method, r.path)}`), ...extra.map((b) => `undeclared ${key(b.method, b.pattern)}`)].join(', ')}`);
  }
}
