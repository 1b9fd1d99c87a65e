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
import { actor } from '../middleware/auth.js';
import { routes } from '../openapi/operation.js';
import {
  auditEntry,
  deadLetterList,
  intakeState as intakeStateSchema,
  queueStats as queueStatsSchema,
  retried,
} from '../openapi/schemas.js';

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

const common = { tags: ['operations'], security: 'session', role: 'admin' } as const;
const noBody = { body: z.strictObject({}), bodyOptional: true } as const;
const lockView = z.object({ key: z.string(), owner: z.string(), fence: z.number().int(), expiresAt: z.iso.datetime({ offset: true }) });

export function adminRoutes(d: ApiContext): Router {
  const r = Router();
  const t = routes(r);
  const db = d.db;
  const listQuery = z.strictObject({
    type: eventType.optional(),
    page: z.coerce.number().int().min(1).max(10_000).default(1),
    limit: z.coerce.number().int().min(1).max(d.cfg.PAGE_LIMIT_MAX).default(20),
  });
  const meta = (req: Request) => ({ actor: actor(req), requestId: String(req.id) });

  t.get(
    '/queue-stats',
    {
      ...common,
      summary: 'Queue health per event type: pending, processing, failed (retrying), dead, oldest pending age; paused types; intake',
      responses: { 200: { description: 'the counts', schema: queueStatsSchema } },
    },
    async (_i, _req, res) => {
      const [stats, paused, intake] = await Promise.all([queueStats(db), pausedTypes(db), intakeState(db)]);
      res.json({ ...stats, paused, intake });
    },
  );

  t.get(
    '/dead-letters',
    {
      ...common,
      summary: 'Dead letters, newest first, with every attempt’s error',
      query: listQuery,
      responses: { 200: { description: 'one page', schema: deadLetterList } },
    },
    async ({ query }, _req, res) => {
      res.json(await listDeadLetters(db, query));
    },
  );

  // The literal routes come before `/:id/retry` so "retry" and "purge" are never taken for ids.
  // A body that was not parsed (absent, or not JSON) is undefined here and fails the schema.
  t.post(
    '/dead-letters/retry',
    {
      ...common,
      summary: 'Retry the dead letters of a type (or all: true); applications their stage failed resume',
      body: retryAllBody,
      example: { type: 'ocr.requested' },
      responses: { 200: { description: 'how many were retried and which applications resumed', schema: retried } },
    },
    async ({ body }, req, res) => {
      const r = await retryDeadLetters(d, body.type ? { type: body.type } : {}, meta(req));
      await recordAction(d.c, {
        entity: 'dead_letter',
        entityId: body.type ?? '*',
        action: 'dead_letters.retried',
        ...meta(req),
        details: { filter: body, retried: r.retried },
      });
      res.json({ retried: r.retried, resumed: r.resumed });
    },
  );

  t.post(
    '/dead-letters/purge',
    {
      ...common,
      summary: 'Delete dead letters by type and/or age (or all: true); never one whose application is still open',
      body: purgeBody,
      example: { olderThanMinutes: 10_080 },
      responses: {
        200: { description: 'how many were deleted', schema: z.object({ purged: z.number().int() }) },
        409: { description: 'a matched disbursement dead letter belongs to an application that is not final yet' },
      },
    },
    async ({ body }, req, res) => {
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
    },
  );

  t.post(
    '/dead-letters/:id/retry',
    {
      ...common,
      summary: 'Retry one dead letter',
      params: idParams,
      ...noBody,
      responses: {
        200: { description: 'retried', schema: z.object({ retried: z.literal(true), id: z.string(), resumed: retried.shape.resumed }) },
        404: { description: 'no such dead letter' },
      },
    },
    async ({ params: { id } }, req, res) => {
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
    },
  );

  for (const paused of [true, false]) {
    t.post(
      paused ? '/queues/:type/pause' : '/queues/:type/resume',
      {
        ...common,
        summary: paused ? 'Pause an event type: workers stop claiming it' : 'Resume an event type',
        params: typeParams,
        ...noBody,
        responses: { 200: { description: 'the new state', schema: z.object({ type: z.string(), paused: z.boolean() }) } },
      },
      async ({ params: { type } }, req, res) => {
        if (paused) await pauseType(db, type, actor(req).email);
        else await resumeType(db, type);
        await recordAction(d.c, { entity: 'queue', entityId: type, action: paused ? 'queue.paused' : 'queue.resumed', ...meta(req) });
        res.json({ type, paused });
      },
    );
  }

  // Partner intake (POST /api/loan/request): every instance obeys within a second (INTAKE_PAUSE_REFRESH_MS).
  t.get(
    '/intake',
    {
      ...common,
      summary: 'Whether partner intake is paused, by whom, since when',
      responses: { 200: { description: 'the state', schema: intakeStateSchema } },
    },
    async (_i, _req, res) => {
      res.json(await intakeState(db));
    },
  );

  for (const paused of [true, false]) {
    t.post(
      paused ? '/intake/pause' : '/intake/resume',
      {
        ...common,
        summary: paused ? 'Pause partner intake: every instance answers 503 within a second' : 'Resume partner intake',
        ...noBody,
        responses: { 200: { description: 'the new state', schema: intakeStateSchema } },
      },
      async (_i, req, res) => {
        const state = await setIntakePaused(db, paused, actor(req).email);
        await recordAction(d.c, {
          entity: 'intake',
          entityId: 'intake',
          action: paused ? 'intake.paused' : 'intake.resumed',
          ...meta(req),
        });
        res.json(state);
      },
    );
  }

  t.get(
    '/audit',
    {
      ...common,
      summary: 'The audit trail, newest first (cursor: the `next` of the previous page)',
      query: auditQuery,
      responses: { 200: { description: 'one page', schema: z.object({ items: z.array(auditEntry), next: z.string().nullable() }) } },
    },
    async ({ query: { cursor, ...q } }, _req, res) => {
      res.json(await listAudit(d.c, { ...q, before: cursor }));
    },
  );

  t.get(
    '/locks',
    {
      ...common,
      summary: 'The lease locks held now, with their fencing numbers',
      responses: { 200: { description: 'the locks', schema: z.object({ items: z.array(lockView) }) } },
    },
    async (_i, _req, res) => {
      res.json({ items: await listLocks(db) });
    },
  );
  return r;
}
