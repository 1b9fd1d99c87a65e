import type { Request } from 'express';
import type { z } from 'zod';
import { badRequest } from '../../lib/errors.js';
import { findForbiddenKey } from '../../lib/validation.js';

/**
 * Parses with a strict zod schema; any issue is a 400 listing each problem by path. A missing body
 * (`undefined`: the request had none, or none the JSON parser read) is refused here rather than
 * left for a schema of optional fields to read as "everything": use `body(req, schema, { optional })`
 * for a route whose body may be left out. Keys that reach a prototype are refused anywhere in a body.
 */
export function parse<S extends z.ZodType>(schema: S, data: unknown, where: 'body' | 'query' | 'params'): z.output<S> {
  if (where === 'body') {
    if (data === undefined) throw badRequest('a JSON request body is required (Content-Type: application/json)');
    // `__proto__`, `constructor`, `prototype` keys anywhere in a body are refused, never dropped.
    const at = findForbiddenKey(data);
    if (at) {
      const key = String(at.at(-1));
      throw badRequest('invalid request body', { errors: [{ in: where, path: at.join('.'), message: `the key "${key}" is not allowed` }] });
    }
  }
  const r = schema.safeParse(data);
  if (r.success) return r.data;
  throw badRequest(`invalid request ${where}`, {
    errors: r.error.issues.map((i) => ({ in: where, path: i.path.join('.'), message: i.message })),
  });
}

export interface BodyOptions {
  /**
   * A request without any body is parsed as `{}` (for bodies of optional fields only, such as
   * "retry this one"). Never for a filter: a destructive route needs its filter or `all: true`.
   */
  optional?: boolean;
}

/** The request's JSON body parsed with `schema` (400 when it is missing, unless `optional`). */
export function body<S extends z.ZodType>(req: Request, schema: S, opts: BodyOptions = {}): z.output<S> {
  const data: unknown = req.body;
  return parse(schema, data === undefined && opts.optional ? {} : data, 'body');
}
