// Operator endpoints (admin role; CSRF applies as on every /api route): queue health, dead
// letters, pausing a job type, and the locks currently held.
import { Router, type Request } from 'express';
import { ObjectId } from 'mongodb';
import { z } from 'zod';
import { listLocks } from '../../lib/locks/index.js';
import { retryDeadLetter, retryDeadLetters } from '../../lib/domain/pipeline/retry-dead-letters.js';
import { listDeadLetters, pauseType, pausedTypes, purgeDeadLetters, queueStats, resumeType } from '../../lib/queue/index.js';
import { notFound } from '../../lib/errors.js';
import type { ApiContext } from '../context.js';
import { actor, requireRole } from '../middleware/auth.js';
import { parse } from '../middleware/validate.js';

const eventType = z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/, 'must be an event type like ocr.requested');
const idParams = z.strictObject({ id: z.string().regex(/^[0-9a-f]{24}$/, 'must be a 24-character hex ObjectId') });
const typeParams = z.strictObject({ type: eventType });
const retryAllBody = z.strictObject({ type: eventType.optional() });
const purgeBody = z.strictObject({ type: eventType.optional(), olderThanMinutes: z.number().int().min(0).max(525_600).optional() });

export function adminRoutes(d: ApiContext): Router {
  const r = Router();
  const db = d.db;
  const listQuery = z.strictObject({
    type: eventType.optional(),
    page: z.coerce.number().int().min(1).max(10_000).default(1),
    limit: z.coerce.number().int().min(1).max(d.cfg.PAGE_LIMIT_MAX).default(20),
  });
  const meta = (req: Request) => ({ actor: actor(req), requestId: String(req.id) });
  r.use(requireRole('admin'));

  r.get('/queue-stats', async (_req, res) => {
    const [stats, paused] = await Promise.all([queueStats(db), pausedTypes(db)]);
    res.json({ ...stats, paused });
  });

  r.get('/dead-letters', async (req, res) => {
    res.json(await listDeadLetters(db, parse(listQuery, req.query, 'query')));
  });

  // The literal routes come before `/:id/retry` so "retry" and "purge" are never taken for ids.
  r.post('/dead-letters/retry', async (req, res) => {
    const { type } = parse(retryAllBody, req.body ?? {}, 'body');
    const r = await retryDeadLetters(d, type ? { type } : {}, meta(req));
    res.json({ retried: r.retried, resumed: r.resumed });
  });

  r.post('/dead-letters/purge', async (req, res) => {
    const { type, olderThanMinutes } = parse(purgeBody, req.body ?? {}, 'body');
    const olderThan = olderThanMinutes === undefined ? undefined : new Date(Date.now() - olderThanMinutes * 60_000);
    res.json({ purged: await purgeDeadLetters(db, { ...(type ? { type } : {}), ...(olderThan ? { olderThan } : {}) }) });
  });

  r.post('/dead-letters/:id/retry', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    parse(z.strictObject({}), req.body ?? {}, 'body');
    const r = await retryDeadLetter(d, new ObjectId(id), meta(req));
    if (r.retried === 0) throw notFound(`no dead letter ${id}`);
    res.json({ retried: true, id, resumed: r.resumed });
  });

  r.post('/queues/:type/pause', async (req, res) => {
    const { type } = parse(typeParams, req.params, 'params');
    await pauseType(db, type, actor(req).email);
    res.json({ type, paused: true });
  });

  r.post('/queues/:type/resume', async (req, res) => {
    const { type } = parse(typeParams, req.params, 'params');
    await resumeType(db, type);
    res.json({ type, paused: false });
  });

  r.get('/locks', async (_req, res) => {
    res.json({ items: await listLocks(db) });
  });
  return r;
}
