// The error log (mounted at /api/loans behind the session): which loans failed, why, and retrying
// them. Signed-in users of any role read it; only admins retry (CSRF applies as on every /api
// route), and every retry is audited. Routes go through the operation table (server/openapi), so
// the OpenAPI document describes exactly what they parse and answer.
import { type Request, Router } from 'express';
import { ObjectId } from 'mongodb';
import { z } from 'zod';
import { ERROR_CATEGORIES } from '../../lib/domain/error-log/codes.js';
import { decodeCursor } from '../../lib/domain/error-log/cursor.js';
import { listErrors, summarizeErrors } from '../../lib/domain/error-log/list.js';
import { retryErrorEntry } from '../../lib/domain/error-log/retry.js';
import { errorIdParams, errorListQuery, errorSummaryQuery, isTrackingId } from '../../lib/domain/error-log/schemas.js';
import { errorView } from '../../lib/domain/error-log/view.js';
import type { ApiContext } from '../context.js';
import { actor } from '../middleware/auth.js';
import { routes } from '../openapi/operation.js';

// Response bodies as they travel (dates as ISO strings).
const date = z.iso.datetime({ offset: true });
const category = z.enum(ERROR_CATEGORIES);
const entryView = z.object({
  id: z.string().regex(/^[0-9a-f]{24}$/),
  code: z.string().meta({ example: 'LOW_CREDIT_SCORE' }),
  category,
  applicationId: z.string().nullable(),
  loanId: z.string().nullable().meta({ description: "the partner's own loan reference" }),
  partnerId: z.string().nullable(),
  message: z.string(),
  fields: z.array(z.string()).optional().meta({ description: 'validation failures: the field paths (latest occurrence)' }),
  firstSeen: date,
  lastSeen: date,
  count: z.number().int().min(1),
  requestId: z.string().nullable(),
  retryable: z.boolean().meta({ description: 'a dead-lettered event that POST …/retry requeues' }),
  eventId: z.string().nullable(),
  stage: z.string().nullable().meta({ example: 'ocr.requested' }),
  lastRetry: z.object({ at: date, by: z.string() }).nullable(),
});
const entryList = z.object({
  items: z.array(entryView),
  next: z.string().nullable().meta({ description: 'the `cursor` of the next page; null on the last one' }),
});
const counts = { entries: z.number().int(), occurrences: z.number().int() };
const summary = z.object({
  from: date.nullable(),
  to: date.nullable(),
  byCode: z.array(z.object({ code: z.string(), category, ...counts })),
  byCategory: z.array(z.object({ category, ...counts })),
});
const entryRetried = z.object({
  retried: z.literal(true),
  id: z.string(),
  eventId: z.string(),
  stage: z.string(),
  resumed: z.array(z.object({ applicationId: z.string(), status: z.string() })),
});

const common = { tags: ['error log'], security: 'session' } as const;
const toDate = (v: string | undefined) => (v === undefined ? undefined : new Date(v));

export function errorLogRoutes(d: ApiContext): Router {
  const r = Router();
  const t = routes(r);
  const meta = (req: Request) => ({ actor: actor(req), requestId: String(req.id) });

  t.get(
    '/errors',
    {
      ...common,
      role: 'viewer',
      summary: 'Error-log entries, newest (last seen) first, with a keyset cursor',
      description:
        'One entry per (code, application) or (code, partner, partner loanId), counting its occurrences. `loanId` is the ' +
        "partner's loan reference or our tracking id (LOAN-…); `from`/`to` select by last occurrence, [from, to). Every " +
        'filter combination is served by an index in list order.',
      query: errorListQuery,
      responses: { 200: { description: 'one page', schema: entryList } },
    },
    async ({ query: q }, _req, res) => {
      const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
      const byApplication = q.loanId !== undefined && isTrackingId(q.loanId);
      const page = await listErrors(d.c, {
        code: q.code,
        category: q.category,
        applicationId: byApplication ? q.loanId : undefined,
        loanId: byApplication ? undefined : q.loanId,
        partnerId: q.partner,
        from: toDate(q.from),
        to: toDate(q.to),
        after,
        limit: q.limit,
      });
      res.json({ items: page.items.map(errorView), next: page.next });
    },
  );

  t.get(
    '/errors/summary',
    {
      ...common,
      role: 'viewer',
      summary: 'Entries and occurrences by code and by category, for entries last seen in [from, to)',
      query: errorSummaryQuery,
      responses: { 200: { description: 'the counts, most occurrences first', schema: summary } },
    },
    async ({ query: q }, _req, res) => {
      const s = await summarizeErrors(d.c, { from: toDate(q.from), to: toDate(q.to) });
      res.json({ from: q.from ?? null, to: q.to ?? null, ...s });
    },
  );

  t.post(
    '/errors/:id/retry',
    {
      ...common,
      role: 'admin',
      summary: "Re-run an entry's failed step: requeue its dead-lettered event (and resume the application it failed); audited",
      description:
        'Idempotent by state: once the event is no longer dead-lettered, a second retry changes nothing and answers 409 ' +
        '`not_dead_lettered`. Validation failures and rule rejections have no step to re-run: 409 `not_retryable` (the ' +
        'partner resubmits the corrected request under a new Idempotency-Key).',
      params: errorIdParams,
      body: z.strictObject({}),
      bodyOptional: true,
      responses: {
        200: { description: 'the event is pending again; `resumed` lists the application moved back to its stage', schema: entryRetried },
        404: { description: 'no such entry' },
        409: { description: '`not_retryable` (nothing to re-run) or `not_dead_lettered` (already retried or purged)' },
      },
    },
    async ({ params }, req, res) => {
      res.json(await retryErrorEntry(d, new ObjectId(params.id), meta(req)));
    },
  );
  return r;
}
