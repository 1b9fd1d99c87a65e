// GET /api/admin/reconciliation (admin): the reconciler's last runs — when, which worker (and lease
// fence), how many applications were stuck per status, and what it did to each — and who holds
// the reconciler lease now. Read-only; the runs are written by the lease holder (workers).
import { Router } from 'express';
import { z } from 'zod';
import { reconcilerHolder } from '../../lib/domain/pipeline/reconcile-lease.js';
import { lastRuns, RECONCILE_ACTIONS, type ReconciliationRunDoc } from '../../lib/domain/pipeline/reconcile-runs.js';
import type { ApiContext } from '../context.js';
import { routes } from '../openapi/operation.js';

const date = z.iso.datetime({ offset: true });
const action = z.enum(RECONCILE_ACTIONS);
const query = z.strictObject({ limit: z.coerce.number().int().min(1).max(100).default(20) });

const stepView = z.object({
  applicationId: z.string(),
  status: z.string(),
  stuckForS: z.number().int().min(0).meta({ description: 'seconds since the application last changed' }),
  action,
  reason: z.string(),
  eventId: z.string().optional().meta({ description: 'the event published (redriven) or found live (waiting)' }),
});
const runView = z.object({
  id: z.string().regex(/^[0-9a-f]{24}$/),
  startedAt: date,
  finishedAt: date,
  owner: z.string().meta({ description: 'the worker instance that held the reconciler lease' }),
  fence: z.number().int().min(1),
  thresholds: z.record(z.string(), z.number().int()).meta({ description: 'seconds per status, as configured for this run' }),
  stuck: z.record(z.string(), z.number().int().min(0)).meta({ description: 'applications stuck per status when the run looked' }),
  counts: z.object(
    Object.fromEntries(RECONCILE_ACTIONS.map((a) => [a, z.number().int().min(0)])) as Record<
      (typeof RECONCILE_ACTIONS)[number],
      z.ZodNumber
    >,
  ),
  steps: z.array(stepView),
  interrupted: z.boolean().meta({ description: 'the run stopped early (lease lost, worker stopping); the next run continues' }),
});
const answer = z.object({
  holder: z.object({ owner: z.string(), fence: z.number().int(), expiresAt: date }).nullable(),
  runs: z.array(runView),
});

const toView = (r: ReconciliationRunDoc): z.input<typeof runView> => ({
  id: r._id.toHexString(),
  startedAt: r.startedAt.toISOString(),
  finishedAt: r.finishedAt.toISOString(),
  owner: r.owner,
  fence: r.fence,
  thresholds: r.thresholds,
  stuck: r.stuck,
  counts: r.counts,
  steps: r.steps,
  interrupted: r.interrupted,
});

export function reconciliationRoutes(d: ApiContext): Router {
  const r = Router();
  routes(r).get(
    '/reconciliation',
    {
      tags: ['operations'],
      security: 'session',
      role: 'admin',
      summary: "The reconciler's last runs (newest first) and what each did to stuck applications; who holds its lease",
      description:
        'A run looks at applications unchanged for longer than their status threshold (RECONCILE_THRESHOLDS) and, for ' +
        'each, waits (a live event), re-drives the step (redriven), records a payment the gateway already made ' +
        '(finished), defers (gateway unreachable) or moves it to needs_review (escalated). Runs are kept ' +
        'RECONCILE_RUN_RETENTION_DAYS.',
      query,
      responses: {
        200: { description: 'the runs and the current lease holder', schema: answer },
        400: { description: 'bad query' },
        401: { description: 'not signed in' },
        403: { description: 'not an admin' },
      },
    },
    async ({ query: q }, _req, res) => {
      const [runs, holder] = await Promise.all([lastRuns(d.c.reconciliationRuns, q.limit), reconcilerHolder(d.db)]);
      res.json({
        holder: holder ? { ...holder, expiresAt: holder.expiresAt.toISOString() } : null,
        runs: runs.map(toView),
      });
    },
  );
  return r;
}
