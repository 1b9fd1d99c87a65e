// The OpenAPI 3.1 document, generated from the mounted app: it walks the Express router tree,
// reads the operation spec each route was registered with (./operation.ts) and turns its zod
// schemas into JSON Schema 2020-12 (the dialect of OpenAPI 3.1) with zod's own z.toJSONSchema —
// no second schema language, no converter library. Schemas are inlined (zod's named $defs would
// resolve against the document root); Problem is the one shared component. A route registered without a spec is listed
// in `undocumented` (a test requires none).
import type { Express } from 'express';
import { z } from 'zod';
import { type AnyOperation, operationOf, type ResponseSpec } from './operation.js';
import { problem } from './schemas.js';

export interface MountedRoute {
  method: string;
  /** Express syntax, e.g. /api/applications/:id */
  path: string;
  operation: AnyOperation | undefined;
}

interface Layer {
  route?: { path: string; methods: Record<string, boolean>; stack: Array<{ handle: unknown }> };
  handle?: { stack?: Layer[] };
  rawPath?: unknown;
}

/** Every route mounted on `app`, with its full path and its operation spec (if it has one). */
export function mountedRoutes(app: Express): MountedRoute[] {
  const found: MountedRoute[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      const at = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
      if (layer.route) {
        const operation = layer.route.stack.map((l) => operationOf(l.handle)).find((o) => o !== undefined);
        for (const method of Object.keys(layer.route.methods).filter((m) => m !== '_all')) {
          found.push({ method, path: `${prefix}${layer.route.path === '/' && prefix ? '' : layer.route.path}`, operation });
        }
      } else if (Array.isArray(layer.handle?.stack)) walk(layer.handle.stack, `${prefix}${at}`);
    }
  };
  const router = (app as unknown as { router: { stack: Layer[] } }).router;
  walk(router.stack, '');
  return found;
}

/** /api/applications/:id → /api/applications/{id} */
export const openApiPath = (expressPath: string) => expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

type Json = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
    reused: 'inline',
  }) as Json;
  return rest;
}

const objectShape = (schema: z.ZodType | undefined): Record<string, z.ZodType> =>
  schema instanceof z.ZodObject ? (schema.shape as Record<string, z.ZodType>) : {};

function parameters(op: AnyOperation): Json[] {
  const list: Json[] = [];
  for (const [where, schema] of [
    ['path', op.params],
    ['query', op.query],
  ] as const) {
    for (const [name, field] of Object.entries(objectShape(schema))) {
      list.push({ name, in: where, required: where === 'path' || !field.safeParse(undefined).success, schema: jsonSchema(field, 'input') });
    }
  }
  for (const [name, description] of Object.entries(op.headers ?? {}))
    list.push({ name, in: 'header', required: false, description, schema: { type: 'string' } });
  return list;
}

const PROBLEM_REF = { $ref: '#/components/schemas/Problem' };
const problemResponse = (description: string) => ({ description, content: { 'application/problem+json': { schema: PROBLEM_REF } } });

function response(status: number, r: ResponseSpec): Json {
  const headers = r.headers
    ? Object.fromEntries(Object.entries(r.headers).map(([k, description]) => [k, { description, schema: { type: 'string' } }]))
    : undefined;
  if (status >= 400 && !r.schema) return { ...problemResponse(r.description), ...(headers ? { headers } : {}) };
  const type = r.contentType ?? 'application/json';
  const content =
    r.schema || r.contentType
      ? {
          [type]: {
            ...(r.schema ? { schema: jsonSchema(r.schema, 'output') } : {}),
            ...(r.example !== undefined ? { example: r.example } : {}),
          },
        }
      : undefined;
  return { description: r.description, ...(content ? { content } : {}), ...(headers ? { headers } : {}) };
}

/** The problem answers every route of a kind can give, beside the ones its spec names. */
function standardProblems(op: AnyOperation, method: string): Record<string, Json> {
  const out: Record<string, Json> = {};
  if (op.params || op.query || op.body || op.upload || op.headers)
    out['400'] = problemResponse('invalid request: the problem lists each field');
  if (op.security === 'session' || op.security === 'partner') out['401'] = problemResponse('not signed in / no valid key');
  if (op.security === 'session' && (op.role || method !== 'get'))
    out['403'] = problemResponse('the role is too low, or the CSRF token is missing');
  if (op.body || op.upload) {
    out['413'] = problemResponse('the body is too large');
    out['415'] = problemResponse('the body is not JSON (or not multipart for uploads)');
  }
  if (op.security === 'partner') out['429'] = problemResponse("over the partner's rate limit (Retry-After, RateLimit, RateLimit-Policy)");
  out['500'] = problemResponse('unexpected error (no details are sent)');
  out['503'] = problemResponse(
    'MongoDB is electing a primary or unreachable, the instance is draining, or it is overloaded (load shedding, `reason`): retry after Retry-After',
  );
  return out;
}

function securityOf(op: AnyOperation, method: string): Json[] {
  switch (op.security) {
    case 'session':
      return method === 'get' ? [{ sessionCookie: [] }] : [{ sessionCookie: [], csrfToken: [] }];
    case 'partner':
      return [{ partnerKey: [] }];
    case 'webhook':
      return [{ webhookSignature: [] }];
    default:
      return [];
  }
}

function requestBody(op: AnyOperation): Json | undefined {
  if (op.upload) {
    return {
      required: true,
      content: {
        'multipart/form-data': {
          schema: {
            type: 'object',
            required: [op.upload.field],
            properties: {
              [op.upload.field]: { type: 'string', contentMediaType: 'application/octet-stream', maxLength: op.upload.maxBytes },
            },
          },
        },
      },
    };
  }
  if (!op.body) return undefined;
  return {
    required: !op.bodyOptional,
    content: { 'application/json': { schema: jsonSchema(op.body, 'input'), ...(op.example !== undefined ? { example: op.example } : {}) } },
  };
}

/** Components: the problem details every error answer carries, and the security schemes. */
function components(): Json {
  const schemas: Json = { Problem: jsonSchema(problem, 'output') };
  return {
    schemas,
    securitySchemes: {
      sessionCookie: {
        type: 'apiKey',
        in: 'cookie',
        name: 'creditdesk.sid',
        description: 'the session cookie set by POST /api/auth/login (`__Host-creditdesk.sid` in production)',
      },
      csrfToken: {
        type: 'apiKey',
        in: 'header',
        name: 'X-CSRF-Token',
        description: 'the csrfToken returned by login and GET /api/auth/me; required on every unsafe method',
      },
      partnerKey: {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'cdk_live_…',
        description: "a partner's API key (POST /api/partners/{id}/keys)",
      },
      webhookSignature: {
        type: 'apiKey',
        in: 'header',
        name: 'webhook-signature',
        description:
          'Standard Webhooks: webhook-id, webhook-timestamp and webhook-signature (v1,<base64 HMAC-SHA-256 of id.timestamp.body>)',
      },
    },
  };
}

/** The API's own version (the document's info.version), independent of the package's. */
export const API_VERSION = '1.0.0';

export interface OpenApiDocument {
  document: Json;
  undocumented: MountedRoute[];
}

export function openApiDocument(app: Express, info: { version: string; serverUrl?: string }): OpenApiDocument {
  const routes = mountedRoutes(app);
  const paths: Record<string, Json> = {};
  for (const { method, path, operation: op } of routes) {
    if (!op) continue;
    const key = openApiPath(path);
    paths[key] ??= {};
    const responses: Json = { ...standardProblems(op, method) };
    for (const [status, r] of Object.entries(op.responses)) responses[status] = response(Number(status), r);
    const params = parameters(op);
    const body = requestBody(op);
    paths[key][method] = {
      operationId: `${method}${key.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      tags: op.tags,
      security: securityOf(op, method),
      ...(op.role ? { 'x-required-role': op.role } : {}),
      ...(params.length ? { parameters: params } : {}),
      ...(body ? { requestBody: body } : {}),
      responses,
    };
  }
  return {
    document: {
      openapi: '3.1.0',
      info: {
        title: 'creditdesk API',
        version: info.version,
        description:
          'Loan-application intake and processing. Admin routes use a session cookie (POST /api/auth/login) and the X-CSRF-Token header on unsafe methods; partner routes use a bearer API key. Errors are RFC 9457 problem details.',
      },
      ...(info.serverUrl ? { servers: [{ url: info.serverUrl }] } : {}),
      jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
      paths,
      components: components(),
    },
    // A route layer without a spec is fine when another layer of the same method and path has
    // one (e.g. the intake pause check mounted ahead of POST /api/loan/request).
    undocumented: routes.filter((r) => !r.operation && !routes.some((o) => o.operation && o.method === r.method && o.path === r.path)),
  };
}
