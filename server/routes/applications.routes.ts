import { Router, type Request } from 'express';
import { z } from 'zod';
import { BATCH_RESULTS, batchUpdateStatus, createApplication, updateApplication } from '../../lib/domain/applications/commands.js';
import { applicationHistory, getApplication, listApplications } from '../../lib/domain/applications/queries.js';
import { cachedTotals } from '../../lib/domain/applications/list-totals.js';
import { SORTS, applicationId, createApplicationInput, status, updateApplicationInput } from '../../lib/domain/applications/schemas.js';
import { toView } from '../../lib/domain/applications/view.js';
import type { ApiContext } from '../context.js';
import { actor, requireRole } from '../middleware/auth.js';
import { parse } from '../middleware/validate.js';

const idParams = z.strictObject({ id: applicationId });

export function applicationRoutes(d: ApiContext): Router {
  const r = Router();
  const meta = (req: Request) => ({ actor: actor(req), requestId: String(req.id) });
  const totals = cachedTotals(d.cfg.LIST_TOTAL_CACHE_MS);
  const listQuery = z.strictObject({
    page: z.coerce.number().int().min(1).max(10_000).default(1),
    limit: z.coerce.number().int().min(1).max(d.cfg.PAGE_LIMIT_MAX).default(20),
    status: status.optional(),
    sort: z.enum(SORTS).default('-createdAt'),
  });
  const batchBody = z.strictObject({
    applicationIds: z.array(applicationId).min(1).max(d.cfg.BATCH_UPDATE_MAX),
    status,
    versions: z.record(applicationId, z.number().int().min(1)).optional(),
  });

  r.get('/', requireRole('viewer'), async (req, res) => {
    const page = await listApplications(d.c, parse(listQuery, req.query, 'query'), totals);
    res.json({ ...page, items: page.items.map(toView) });
  });

  r.post('/', requireRole('reviewer'), async (req, res) => {
    const doc = await createApplication(d, parse(createApplicationInput, req.body, 'body'), meta(req));
    res.status(201).location(`/api/applications/${doc._id}`).json(toView(doc));
  });

  r.post('/batch-update', requireRole('reviewer'), async (req, res) => {
    const body = parse(batchBody, req.body, 'body');
    const results = await batchUpdateStatus(d, body.applicationIds, body.status, body.versions, meta(req));
    const summary = Object.fromEntries(BATCH_RESULTS.map((k) => [k, results.filter((x) => x.result === k).length]));
    res.json({ results, summary });
  });

  r.get('/:id', requireRole('viewer'), async (req, res) => {
    res.json(toView(await getApplication(d.c, parse(idParams, req.params, 'params').id)));
  });

  r.get('/:id/history', requireRole('viewer'), async (req, res) => {
    res.json({ items: await applicationHistory(d.c, parse(idParams, req.params, 'params').id) });
  });

  r.put('/:id', requireRole('reviewer'), async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const { version, ...changes } = parse(updateApplicationInput, req.body, 'body');
    res.json(toView(await updateApplication(d, id, version, changes, meta(req))));
  });
  return r;
}
