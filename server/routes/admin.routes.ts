// Operator endpoints (admin role; CSRF applies as on every /api route): queue health, dead
// letters, pausing a job type, the locks currently held, and the audit trail. Every action that
// changes something is audited with its actor and request id. Bulk retry/purge need an explicit
// filter or `all: true`: a missing or empty body never means "everything".
import { Router, type Request } from 'express';
import { ObjectId } from 'mongodb';
import { z } from 'zod';
import { listLocks } from '../../lib/locks/index.js';
import { retryDeadLetter, retryDeadLetters } from '../../lib/domain/pipeline/retry-dead-letters.js';
import { listDeadLetters, pauseType, pausedTypes, queueStats, resumeType } from '../../lib/queue/index.js';
import { AUDIT_ENTITIES, listAudit, recordAction } from '../../lib/domain/audit.js';
import { intakeState, setIntakePaused } from '../../lib/domain/intake/controls.js';
import { purgeDeadLetters } from '../../lib/domain/pipeline/purge-dead-letters.js';
import { notFound } from '../../lib/errors.js';
import type { ApiContext } from '../context.js';
import { actor, requireRole } from '../middleware/auth.js';
import { parse } from '../middleware/validate.js';

const eventType = z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/, 'must be an event type like ocr.requested');
const idParams = z.strictObject({ id: z.string().regex(/^[0-9a-f]{24}$/, 'must be a 24-character hex ObjectId') });
const typeParams = z.strictObject({ type: eventType });
const EXPLICIT = 'name a filter (type, olderThanMinutes) or send "all": true, not both';
/** A filter that matches, or `all: true`: exactly one of the two. */
const explicit = <T extends { all?: true | undefined }>(b: T, filters: unknown[]) =>
  (b.all === true) !== filters.some((x) => x !== undefined);
const retryAllBody = z
  .strictObject({ type: eventType.optional(), all: z.literal(true).optional() })
  .refine((b) => explicit(b, [b.type]), { message: 'name a filter (type) or send "all": true, not both' });
const purgeBody = z
  .strictObject({
    type: eventType.optional(),
    olderThanMinutes: z.number().int().min(0).max(525_600).optional(),
    all: z.literal(true).optional(),
  })
  .refine((b) => explicit(b, [b.type, b.olderThanMinutes]), { message: EXPLICIT });
const auditQuery = z.strictObject({
  entity: z.enum(AUDIT_ENTITIES).optional(),
  entityId: z.string().min(1).max(100).optional(),
  action: z
    .string()
    .regex(/^[a-z][a-z0-9_.]{0,63}$/, 'must be an action like dead_letters.purged')
    .optional(),
  cursor: z
    .string()
    .regex(/^[0-9a-f]{24}$/, 'must be the `next` of the previous page')
    .optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});

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
    const [stats, paused, intake] = await Promise.all([queueStats(db), pausedTypes(db), intakeState(db)]);
    res.json({ ...stats, paused, intake });
  });

  r.get('/dead-letters', async (req, res) => {
    res.json(await listDeadLetters(db, parse(listQuery, req.query, 'query')));
  });

  // The literal routes come before `/:id/retry` so "retry" and "purge" are never taken for ids.
  // A body that was not parsed (absent, or not JSON) is undefined here and fails the schema.
  r.post('/dead-letters/retry', async (req, res) => {
    const body = parse(retryAllBody, req.body, 'body');
    const r = await retryDeadLetters(d, body.type ? { type: body.type } : {}, meta(req));
    await recordAction(d.c, {
      entity: 'dead_letter',
      entityId: body.type ?? '*',
      action: 'dead_letters.retried',
      ...meta(req),
      details: { filter: body, retried: r.retried },
    });
    res.json({ retried: r.retried, resumed: r.resumed });
  });

  r.post('/dead-letters/purge', async (req, res) => {
    const body = parse(purgeBody, req.body, 'body');
    const olderThan = body.olderThanMinutes === undefined ? undefined : new Date(Date.now() - body.olderThanMinutes * 60_000);
    const { purged } = await purgeDeadLetters(d, { type: body.type, olderThan });
    await recordAction(d.c, {
      entity: 'dead_letter',
      entityId: body.type ?? '*',
      action: 'dead_letters.purged',
      ...meta(req),
      details: { filter: body, purged },
    });
    res.json({ purged });
  });

  r.post('/dead-letters/:id/retry', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    parse(z.strictObject({}), req.body ?? {}, 'body');
    const r = await retryDeadLetter(d, new ObjectId(id), meta(req));
    if (r.retried === 0) throw notFound(`no dead letter ${id}`);
    await recordAction(d.c, {
      entity: 'dead_letter',
      entityId: id,
      action: 'dead_letters.retried',
      ...meta(req),
      details: { resumed: r.resumed },
    });
    res.json({ retried: true, id, resumed: r.resumed });
  });

  r.post('/queues/:type/pause', async (req, res) => {
    const { type } = parse(typeParams, req.params, 'params');
    await pauseType(db, type, actor(req).email);
    await recordAction(d.c, { entity: 'queue', entityId: type, action: 'queue.paused', ...meta(req) });
    res.json({ type, paused: true });
  });

  r.post('/queues/:type/resume', async (req, res) => {
    const { type } = parse(typeParams, req.params, 'params');
    await resumeType(db, type);
    await recordAction(d.c, { entity: 'queue', entityId: type, action: 'queue.resumed', ...meta(req) });
    res.json({ type, paused: false });
  });

  // Partner intake (POST /api/loan/request): every instance obeys within a second (INTAKE_PAUSE_REFRESH_MS).
  r.get('/intake', async (_req, res) => {
    res.json(await intakeState(db));
  });

  for (const [path, paused] of [
    ['/intake/pause', true],
    ['/intake/resume', false],
  ] as const) {
    r.post(path, async (req, res) => {
      parse(z.strictObject({}), req.body ?? {}, 'body');
      const state = await setIntakePaused(db, paused, actor(req).email);
      await recordAction(d.c, { entity: 'intake', entityId: 'intake', action: paused ? 'intake.paused' : 'intake.resumed', ...meta(req) });
      res.json(state);
    });
  }

  r.get('/audit', async (req, res) => {
    const { cursor, ...q } = parse(auditQuery, req.query, 'query');
    res.json(await listAudit(d.c, { ...q, before: cursor }));
  });

  r.get('/locks', async (_req, res) => {
    res.json({ items: await listLocks(db) });
  });
  return r;
}
