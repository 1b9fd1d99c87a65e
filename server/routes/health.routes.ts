import type { BlockList } from 'node:net';
import { Router, type Request } from 'express';
import { z } from 'zod';
import type { ApiContext } from '../context.js';
import { isInternal } from '../middleware/metrics.js';
import { routes } from '../openapi/operation.js';

const health = z.object({
  status: z.string(),
  instance: z.string().optional().meta({ description: 'only straight from INTERNAL_NETWORKS' }),
});

/**
 * Liveness and readiness. The instance id is a detail for operators: it is in the answer only
 * for a request made straight to the instance from `internal` networks, never through nginx.
 */
export function healthRoutes(d: ApiContext, internal: BlockList): Router {
  const r = Router();
  const body = (req: Request, status: string) => (isInternal(req, internal) ? { status, instance: d.cfg.INSTANCE_ID } : { status });
  const t = routes(r);
  // Liveness: the process answers; no database call.
  t.get(
    '/health',
    {
      summary: 'Liveness: the process answers (no database call)',
      tags: ['health'],
      security: 'public',
      responses: { 200: { description: 'alive', schema: health } },
    },
    (_i, req, res) => {
      res.json(body(req, 'ok'));
    },
  );
  // Readiness: MongoDB answers and we are not draining.
  t.get(
    '/ready',
    {
      summary: 'Readiness: MongoDB answers and the instance is not draining',
      tags: ['health'],
      security: 'public',
      responses: {
        200: { description: 'ready', schema: health },
        503: { description: 'draining or MongoDB unreachable', schema: health, contentType: 'application/json' },
      },
    },
    async (_i, req, res) => {
      if (d.lifecycle.draining) return void res.status(503).json(body(req, 'draining'));
      try {
        await d.db.command({ ping: 1 }, { timeoutMS: 2000 });
        res.json(body(req, 'ready'));
      } catch {
        res.status(503).json(body(req, 'mongodb_unreachable'));
      }
    },
  );
  return r;
}
