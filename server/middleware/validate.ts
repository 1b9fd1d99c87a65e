import type { z } from 'zod';
import { badRequest } from '../../lib/errors.js';

/** Parses with a strict zod schema; any issue is a 400 listing each problem by path. */
export function parse<S extends z.ZodType>(schema: S, data: unknown, where: 'body' | 'query' | 'params'): z.output<S> {
  const r = schema.safeParse(data);
  if (r.success) return r.data;
  throw badRequest(`invalid request ${where}`, {
    errors: r.error.issues.map((i) => ({ in: where, path: i.path.join('.'), message: i.message })),
  });
}
