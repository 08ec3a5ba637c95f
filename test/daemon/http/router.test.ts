import { describe, expect, it } from 'vitest';
import type { Reply } from '../../../src/daemon/http/context.js';
import { Router } from '../../../src/daemon/http/router.js';

const ok = async (): Promise<Reply> => ({ status: 200 });

function router(): Router {
  return new Router()
    .add('GET', '/api/v1/sandboxes/:id', 'any', ok)
    .add('DELETE', '/api/v1/sandboxes/:id', 'any', ok)
    .add('GET', '/api/v1/sandboxes/stats', 'any', ok)
    .add('POST', '/api/v1/sandboxes/:id/exec', 'any', ok)
    .addPublic('GET', '/healthz', ok)
    .add('GET', '/', 'any', ok);
}

describe('Router', () => {
  it('matches patterns and decodes params', () => {
    const m = router().match('POST', '/api/v1/sandboxes/sb%2D1/exec?x=1');
    expect(m.ok && m.route.pattern).toBe('/api/v1/sandboxes/:id/exec');
    expect(m.ok && { ...m.params }).toEqual({ id: 'sb-1' });
    expect(m.ok && m.query.get('x')).toBe('1');
  });

  it('prefers literals, serves HEAD from GET, and marks public routes', () => {
    const r = router();
    const stats = r.match('GET', '/api/v1/sandboxes/stats');
    expect(stats.ok && stats.route.pattern).toBe('/api/v1/sandboxes/stats');
    const head = r.match('HEAD', '/api/v1/sandboxes/x');
    expect(head.ok && head.route.method).toBe('GET');
    const health = r.match('GET', '/healthz');
    expect(health.ok && health.route.public).toBe(true);
    const root = r.match('GET', '/');
    expect(root.ok && root.route.pattern).toBe('/');
  });

  it('reports 404, 405 (with allow) and bad params without throwing', () => {
    const r = router();
    const nf = r.match('GET', '/api/v1/nothing');
    expect(!nf.ok && nf.error.code).toBe('NOT_FOUND');
    const na = r.match('POST', '/api/v1/sandboxes/x');
    expect(!na.ok && na.error.code).toBe('METHOD_NOT_ALLOWED');
    expect(!na.ok && na.error.details).toEqual({ allow: ['GET', 'DELETE', 'HEAD'] });
    expect(!na.ok && na.pattern).toBe('/api/v1/sandboxes/:id');
    for (const bad of ['..', '.', '%2e%2E', 'a%2Fb', 'a%5cb', '%00', 'a%7Fb', '%ZZ', 'x'.repeat(1025)]) {
      const m = r.match('GET', `/api/v1/sandboxes/${bad}`);
      expect(!m.ok && m.error.code, bad).toBe('INVALID_ARGUMENT');
    }
    const abs = r.match('GET', 'http://x/healthz');
    expect(!abs.ok && abs.error.code).toBe('INVALID_ARGUMENT');
  });

  it('refuses bad or clashing registrations', () => {
    expect(() => new Router().add('GET', 'no-slash', 'any', ok)).toThrow();
    expect(() => new Router().add('GET', '/a/:id/:id', 'any', ok)).toThrow(/repeats/);
    expect(() => new Router().add('GET', '/a/../b', 'any', ok)).toThrow(/invalid segment/);
    expect(() => new Router().add('GET', '/a//b', 'any', ok)).toThrow(/invalid segment/);
    expect(() => new Router().add('GET', '/a/:id', 'any', ok).add('GET', '/a/:id', 'any', ok)).toThrow(/already registered/);
    expect(() => new Router().add('GET', '/a/:id', 'any', ok).add('PUT', '/a/:name', 'any', ok)).toThrow(/clashes/);
  });
});
