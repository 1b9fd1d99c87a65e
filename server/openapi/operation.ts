// The route table: every route is registered with an operation spec — who may call it, the zod
// schemas of its path parameters, query and body, and its responses. The same spec validates the
// request (the handler receives the parsed input) and describes the route in the OpenAPI
// document (./document.ts walks the mounted app and reads the spec off each route's handler), so
// the documentation cannot drift from what the router does.
import type { Express, Request, RequestHandler, Response, Router } from 'express';
import type { z } from 'zod';
import type { Role } from '../../lib/domain/users/types.js';
import { requireRole } from '../middleware/auth.js';
import { body, parse } from '../middleware/validate.js';

/**
 * How a caller authenticates: `session` (cookie; unsafe methods also need X-CSRF-Token),
 * `partner` (Authorization: Bearer cdk_live_…), `webhook` (Standard Webhooks signature headers),
 * `public` (nobody), `internal` (only straight from INTERNAL_NETWORKS, never through nginx).
 */
export type Security = 'session' | 'partner' | 'webhook' | 'public' | 'internal';

export interface ResponseSpec {
  description: string;
  /** The JSON body's schema (problem details for 4xx/5xx are documented without one). */
  schema?: z.ZodType;
  /** Default: application/json (application/problem+json for 4xx/5xx). */
  contentType?: string;
  /** Response headers worth knowing (name → description). */
  headers?: Record<string, string>;
  /** An example body; a test checks it against `schema`. */
  example?: unknown;
}

type Schema = z.ZodType | undefined;

export interface OperationSpec<P extends Schema = undefined, Q extends Schema = undefined, B extends Schema = undefined> {
  summary: string;
  description?: string;
  tags: readonly string[];
  security: Security;
  /** The least role a session needs; enforced here (requireRole) and documented. */
  role?: Role;
  params?: P;
  query?: Q;
  body?: B;
  /** A body-less request parses as `{}` (bodies of optional fields only). */
  bodyOptional?: boolean;
  /** Request headers the route reads (name → description), e.g. Idempotency-Key, Last-Event-ID. */
  headers?: Record<string, string>;
  /** A multipart upload instead of a JSON body: the file field's name. */
  upload?: { field: string; maxBytes: number };
  /** Middleware that runs after the role check and before the handler (e.g. receiving an upload). */
  before?: RequestHandler[];
  /** A request body example; a test checks it against `body`. */
  example?: unknown;
  responses: Record<number, ResponseSpec>;
}

type Out<S extends Schema, Default> = S extends z.ZodType ? z.output<S> : Default;
export interface Input<P extends Schema, Q extends Schema, B extends Schema> {
  params: Out<P, Record<string, never>>;
  query: Out<Q, Record<string, never>>;
  body: Out<B, undefined>;
}
type Handler<P extends Schema, Q extends Schema, B extends Schema> = (
  input: Input<P, Q, B>,
  req: Request,
  res: Response,
) => Promise<void> | void;

/** The spec a handler was registered with: the document reads it back from the mounted router. */
export const OPERATION: unique symbol = Symbol('creditdesk.operation');
export type AnyOperation = OperationSpec<Schema, Schema, Schema>;
type Tagged = RequestHandler & { [OPERATION]?: AnyOperation };

export const operationOf = (handler: unknown): AnyOperation | undefined =>
  typeof handler === 'function' ? (handler as Tagged)[OPERATION] : undefined;

/** Parses what the spec declares; params first (a bad id is 400 before a body is read). */
function inputOf<P extends Schema, Q extends Schema, B extends Schema>(spec: OperationSpec<P, Q, B>, req: Request): Input<P, Q, B> {
  return {
    params: (spec.params ? parse(spec.params, req.params, 'params') : {}) as Input<P, Q, B>['params'],
    query: (spec.query ? parse(spec.query, req.query, 'query') : {}) as Input<P, Q, B>['query'],
    body: (spec.body && !spec.upload ? body(req, spec.body, { optional: spec.bodyOptional ?? false }) : undefined) as Input<
      P,
      Q,
      B
    >['body'],
  };
}

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Register = <P extends Schema = undefined, Q extends Schema = undefined, B extends Schema = undefined>(
  path: string,
  spec: OperationSpec<P, Q, B>,
  handler: Handler<P, Q, B>,
) => void;

/** `router`'s routes through the table: `routes(r).get('/:id', spec, async ({ params }, req, res) => …)`. */
export function routes(router: Router | Express): Record<Method, Register> {
  // An Express app routes like a Router (app.get(path, ...handlers)).
  const register =
    (method: Method): Register =>
    (path, spec, handler) => {
      const run: Tagged = async (req, res) => {
        await handler(inputOf(spec, req), req, res);
      };
      run[OPERATION] = spec as AnyOperation;
      const checks: RequestHandler[] = spec.security === 'session' && spec.role ? [requireRole(spec.role)] : [];
      (router as Router)[method](path, ...checks, ...(spec.before ?? []), run);
    };
  return { get: register('get'), post: register('post'), put: register('put'), patch: register('patch'), delete: register('delete') };
}
