import { Router } from 'express';
import type { ApiContext } from '../context.js';

export function healthRoutes(d: ApiContext): Router {
  const r = Router();
  // Liveness: the process answers; no database call.
  r.get('/health', (_req, res) => {
    res.json({ status: 'ok', instance: d.cfg.INSTANCE_ID });
  });
  // Readiness: MongoDB answers and we are not draining.
  r.get('/ready', async (_req, res) => {
    if (d.lifecycle.draining) return void res.status(503).json({ status: 'draining', instance: d.cfg.INSTANCE_ID });
    try {
      await d.db.command({ ping: 1 }, { timeoutMS: 2000 });
      res.json({ status: 'ready', instance: d.cfg.INSTANCE_ID });
    } catch {
      res.status(503).json({ status: 'mongodb_unreachable', instance: d.cfg.INSTANCE_ID });
    }
  });
  return r;
}
