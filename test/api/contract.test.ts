/** The wire contract itself: input parsing in bkg's words, the generated OpenAPI document, and the answer checks route tests rely on. */
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { answerProblem, matchRoute } from '../../src/api/answers.js';
import { BkgError } from '../../src/api/errors.js';
import { buildOpenApi } from '../../src/api/openapi.js';
import { parse } from '../../src/api/parse.js';
import { RAW_ANSWERS } from '../../src/api/paths.js';
import { ALL_ROUTES, ROUTES } from '../../src/api/routes.js';
import { CreateSandboxRequest, ExecRequest } from '../../src/api/schema/sandboxes.js';
import { bkg } from '../helpers/cli.js';

function refusal(fn: () => unknown): { field: unknown; message: string } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BkgError);
    expect((err as BkgError).code).toBe('INVALID_ARGUMENT');
    return { field: (err as BkgError).details?.field, message: (err as BkgError).message };
  }
  throw new Error('expected INVALID_ARGUMENT');
}

describe('parse', () => {
  it('returns the value as the schema types it', () => {
    const v = parse(CreateSandboxRequest, { name: 'a', limits: { memory_mb: 64 } });
    expect(v.name).toBe('a');
    expect(v.limits?.memory_mb).toBe(64);
  });

  it.each([
    [undefined, 'body', /^request body is required$/],
    [[], 'body', /^request body must be an object, not an array$/],
    [{}, 'name', /^name: is required$/],
    [{ name: 'a b' }, 'name', /^name: must match/],
    [{ name: 'a', limits: { memory_mb: 4 } }, 'limits.memory_mb', /at least 16/],
    [{ name: 'a', limits: { memory_mb: 1.5 } }, 'limits.memory_mb', /whole number/],
    [{ name: 'a', limits: { swap_mb: 1 } }, 'limits.swap_mb', /not a known field/],
    [{ name: 'a', network: 'bridge' }, 'network', /is not a network \(none, host, or allow:HOST/],
    [{ name: 'a', env: { 'A-B': 'x' } }, 'env["A-B"]', /./],
    [{ name: 'a', colour: 'red' }, 'colour', /^colour: is not a known field$/],
  ])('%j is refused naming %s', (value, field, message) => {
    const r = refusal(() => parse(CreateSandboxRequest, value));
    expect(r.field).toBe(field);
    expect(r.message).toMatch(message);
  });

  it('names array items by index', () => {
    expect(refusal(() => parse(ExecRequest, { cmd: ['ls', 5] })).field).toBe('cmd[1]');
  });
});

describe('the OpenAPI document', () => {
  const doc = buildOpenApi('0.0.0-test') as { openapi: string; paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>> };

  it('is a valid OpenAPI 3.1 document by an independent validator', async () => {
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
  });

  it('lists exactly the routes whose answers are not JSON as raw for the client', () => {
    const raw = Object.entries(ROUTES).filter(([, spec]) => Object.entries(spec.responses).some(([status, a]) => Number(status) < 300 && (a === 'binary' || a === 'text'))).map(([id]) => id);
    expect([...RAW_ANSWERS].sort()).toEqual(raw.sort());
  });

  it('has every route of the contract, once, with an error answer', () => {
    const ops = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([m, op]) => ({ key: `${m.toUpperCase()} ${path}`, op })));
    expect(ops).toHaveLength(ALL_ROUTES.length);
    for (const [id, spec] of Object.entries(ROUTES)) {
      const op = doc.paths[spec.path.replace(/:(\w+)/g, '{$1}')]?.[spec.method.toLowerCase()];
      expect(op?.operationId, `${spec.method} ${spec.path}`).toBe(id);
      expect(Object.keys(op?.responses ?? {})).toContain('default');
    }
  });

  it('is what `bkg api schema` prints', async () => {
    const r = await bkg(['api', 'schema']);
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.stdout) as typeof doc;
    expect(Object.keys(printed.paths).sort()).toEqual(Object.keys(doc.paths).sort());
  });
});

describe('answer checks', () => {
  const ok = (method: string, url: string, status: number, body: unknown, contentType = 'application/json') =>
    answerProblem({ method, url, status, contentType, body: Buffer.from(body === undefined ? '' : JSON.stringify(body)) });

  it('matches declared routes with their parameters', () => {
    expect(matchRoute('GET', '/api/v1/sandboxes/abc?x=1')?.params).toEqual({ id: 'abc' });
    expect(matchRoute('POST', '/api/v1/sandboxes/abc/exec')?.route).toBe(ROUTES.execSandbox);
    expect(matchRoute('GET', '/api/v1/nothing')).toBeNull();
  });

  it('accepts a declared answer and a well-formed error', () => {
    expect(ok('GET', '/api/v1/audit/verify', 200, { ok: true, count: 3 })).toBeNull();
    expect(ok('GET', '/api/v1/nope', 404, { error: { code: 'NOT_FOUND', message: 'no route', hint: 'see bkg api schema' } })).toBeNull();
    expect(ok('DELETE', '/api/v1/sandboxes/x', 204, undefined, '')).toBeNull();
  });

  it('refuses an undeclared field, an undeclared status and an error that is not an ErrorBody', () => {
    expect(ok('GET', '/api/v1/audit/verify', 200, { ok: true, count: 3, extra: 1 })).toMatch(/does not match the contract.*extra/);
    expect(ok('GET', '/api/v1/audit/verify', 201, { ok: true, count: 3 })).toMatch(/status 201 is not declared/);
    expect(ok('GET', '/api/v1/sandboxes/x', 404, { message: 'nope' })).toMatch(/not an ErrorBody/);
    expect(ok('GET', '/api/v1/sandboxes/x', 500, 'oops', 'text/plain')).toMatch(/must be a JSON ErrorBody/);
    expect(ok('DELETE', '/api/v1/sandboxes/x', 204, { deleted: true })).toMatch(/declared empty/);
    expect(ok('GET', '/api/v1/undeclared', 200, {})).toMatch(/no route declares/);
  });
});
