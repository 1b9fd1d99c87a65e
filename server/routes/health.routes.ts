import type { BlockList } from 'node:net';
import { Router, type Request } from 'express';
import type { ApiContext } from '../context.js';
import { isInternal } from '../middleware/metrics.js';

/**
 * Liveness and readiness. The instance id is a detail for operators: it is in the answer only
 * for a request made straight to the instance from `internal` networks, never through nginx.
 */
export function healthRoutes(d: ApiContext, internal: BlockList): Router {
  const r = Router();
  const body = (req: Request, status: string) => (isInternal(req, internal) ? { status, instance: d.cfg.INSTANCE_ID } : { status });
  // Liveness: the process answers; no database call.
  r.get('/health', (req, res) => {
    res.json(body(req, 'ok'));
  });
  // Readiness: MongoDB answers and we are not draining.
  r.get('/ready', async (req, res) => {
    if (d.lifecycle.draining) return void res.status(503).json(body(req, 'draining'));
    try {
      await d.db.command({ ping: 1 }, { timeoutMS: 2000 });
      res.json(body(req, 'ready'));
    } catch {
      res.status(503).json(body(req, 'mongodb_unreachable'));
    }
  });
  return r;
}
