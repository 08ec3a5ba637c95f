/**
 * The OpenAPI document a running daemon serves (GET /api/v1/openapi.json, no key needed) is a valid
 * OpenAPI 3.1 document by the same independent validator test/api/contract.test.ts uses, and it is
 * the contract: every declared route, once, the daemon's own version, the whoami kinds from the
 * one list of key kinds.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_KINDS } from '../../src/api/names.js';
import { ALL_ROUTES, ROUTES } from '../../src/api/routes.js';
import { call, freePort, removeHome, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { sandboxSkipReason } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();

interface Doc {
  openapi: string;
  info: { version: string };
  paths: Record<string, Record<string, { operationId: string }>>;
}

describe.skipIf(skip)('GET /api/v1/openapi.json from a running daemon', () => {
  let d: TestDaemon;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    d = await startTestDaemon({ port });
  });
  afterAll(async () => {
    await d.stop();
    removeHome(d.home);
  });

  it('is a valid OpenAPI 3.1 document with every route of the contract, on TCP without a key and on the local socket', async () => {
    const r = await call({ port }, 'GET', '/api/v1/openapi.json');
    expect(r.status).toBe(200);
    expect(String(r.headers['content-type'])).toMatch(/^application\/json/);
    const doc = r.body as Doc;
    const result = await new Validator().validate(doc as unknown as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.version).toBe(d.daemon.info.version);
    const ops = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([m, op]) => ({ key: `${m.toUpperCase()} ${path}`, op })));
    expect(ops).toHaveLength(ALL_ROUTES.length);
    for (const [id, spec] of Object.entries(ROUTES)) {
      expect(doc.paths[spec.path.replace(/:(\w+)/g, '{$1}')]?.[spec.method.toLowerCase()]?.operationId, `${spec.method} ${spec.path}`).toBe(id);
    }
    expect((await call(d.local, 'GET', '/api/v1/openapi.json')).raw.equals(r.raw)).toBe(true);
  });

  it('declares whoami\'s kinds from the one list of key kinds', async () => {
    const doc = (await call({ port }, 'GET', '/api/v1/openapi.json')).body as Doc;
    const raw = JSON.stringify(doc);
    const kinds = [...raw.matchAll(/"kind":\{[^{}]*?"enum":(\[[^\]]*\])/g)].map((m) => JSON.parse(m[1] as string) as string[]);
    expect(kinds).toContainEqual([...KEY_KINDS]);
  });
});
