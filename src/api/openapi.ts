/**
 * The OpenAPI 3.1 document of the daemon's API, generated from the route table (routes.ts) and its
 * zod schemas: served at GET /api/v1/openapi.json, printed by `bkg api schema`, and checked by an
 * independent validator in the test suite.
 */
import { ErrorBody, z } from './schema/common.js';
import { ROUTES, type Answer, type RouteSpec } from './routes.js';

type Json = Record<string, unknown>;

/** A zod schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect), as a request takes it or an answer gives it. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Json;
  return rest;
}

function parameters(spec: RouteSpec): Json[] {
  const out: Json[] = [];
  for (const [where, schema] of [['path', spec.params], ['query', spec.query]] as const) {
    if (!schema) continue;
    const js = jsonSchema(schema, 'input') as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, s] of Object.entries(js.properties ?? {})) {
      const { description, ...rest } = s as Json & { description?: string };
      out.push({ name, in: where, required: where === 'path' || (js.required ?? []).includes(name), schema: rest, ...(description ? { description } : {}) });
    }
  }
  if (spec.modelKey) out.push({ name: 'X-Cave-Namespace', in: 'header', required: spec.path !== ROUTES.openaiModels.path, description: 'The namespace the model-access key was granted for.', schema: { type: 'string' } });
  return out;
}

function answer(a: Answer, streams: boolean): Json {
  if (a === 'empty') return { description: 'No content.' };
  if (a === 'binary') return { description: 'The bytes.', content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } } };
  if (a === 'text') return { description: 'Text.', content: { 'text/plain': { schema: { type: 'string' } } } };
  if (a === 'upgrade') return { description: 'Switching to the WebSocket protocol.' };
  if (a === 'protocol' || a === 'sse') return { description: 'The protocol\'s own framing (JSON-RPC or server-sent events).' };
  return {
    description: 'OK.',
    content: {
      'application/json': { schema: jsonSchema(a, 'output') },
      ...(streams ? { 'text/event-stream': { schema: { type: 'string', description: 'With "stream": true: one JSON object per `data:` event.' } } } : {}),
    },
  };
}

function operation(id: string, spec: RouteSpec): Json {
  const streams = spec.path.endsWith('/chat') || spec.path.endsWith('/chat/completions');
  const body = spec.body === 'binary'
    ? { required: true, content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } } }
    : spec.body === 'protocol'
      ? { required: true, content: { 'application/json': { schema: { description: 'A JSON-RPC message of the Model Context Protocol.' } } } }
      : spec.body
        ? { required: spec.bodyOptional !== true, content: { 'application/json': { schema: jsonSchema(spec.body, 'input') } } }
        : undefined;
  const params = parameters(spec);
  return {
    operationId: id,
    summary: spec.summary,
    tags: [spec.tag],
    ...(params.length ? { parameters: params } : {}),
    ...(body ? { requestBody: body } : {}),
    responses: {
      ...Object.fromEntries(Object.entries(spec.responses).map(([status, a]) => [status, answer(a, streams)])),
      default: { description: 'An error: a stable code, the whole message and a hint.', content: { 'application/json': { schema: jsonSchema(ErrorBody, 'output') } } },
    },
    security: spec.access === 'public' ? (spec.modelKey ? [{ modelAccessKey: [] }] : []) : [{ apiKey: [] }],
    'x-bkg-access': spec.access,
    ...(spec.audit ? { 'x-bkg-audit': spec.audit } : {}),
  };
}

export function buildOpenApi(version: string): Json {
  const paths: Record<string, Json> = {};
  for (const [id, spec] of Object.entries(ROUTES) as [string, RouteSpec][]) {
    const path = spec.path.replace(/:([A-Za-z_]\w*)/g, '{$1}');
    (paths[path] ??= {})[spec.method.toLowerCase()] = operation(id, spec);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'bkg daemon API',
      version,
      description: 'The per-host bkg daemon: sandboxes, namespace policies, keys, the audit log, MCP and the admin LLM. Generated from src/api/routes.ts.',
    },
    servers: [{ url: 'http://127.0.0.1:7420', description: 'The daemon\'s TCP listener (also on $BKG_HOME/bkg.sock, and /run/bkg/api.sock inside sandboxes).' }],
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'A bkg API key (bkg_...): `Authorization: Bearer <key>`. The local unix socket needs none (its peer is the host admin).' },
        modelAccessKey: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A model-access key from `bkg llm approve`, with the X-Cave-Namespace header.' },
      },
    },
    paths,
  };
}
