import { Router, type Request } from 'express';
import { z } from 'zod';
import { BATCH_RESULTS, batchUpdateStatus, createApplication, updateApplication } from '../../lib/domain/applications/commands.js';
import { applicationHistory, getApplication, listApplications } from '../../lib/domain/applications/queries.js';
import { cachedTotals } from '../../lib/domain/applications/list-totals.js';
import { SORTS, applicationId, createApplicationInput, status, updateApplicationInput } from '../../lib/domain/applications/schemas.js';
import { decodeCursor } from '../../lib/domain/applications/cursor.js';
import { historyFor, viewFor } from '../../lib/domain/applications/view.js';
import type { ApiContext } from '../context.js';
import { actor, requireRole, roleOf } from '../middleware/auth.js';
import { parse } from '../middleware/validate.js';
import { badRequest } from '../../lib/errors.js';
import { safeRecord } from '../../lib/validation.js';

const idParams = z.strictObject({ id: applicationId });
/** Pages reachable with `page`; deeper pages use the keyset cursor `after` (index range, no skip). */
export const PAGE_MAX = 100;

export function applicationRoutes(d: ApiContext): Router {
  const r = Router();
  const meta = (req: Request) => ({ actor: actor(req), requestId: String(req.id) });
  const policy = { dualApprovalAbove: d.cfg.DUAL_APPROVAL_ABOVE };
  const totals = cachedTotals(d.cfg.LIST_TOTAL_CACHE_MS);
  const listQuery = z.strictObject({
    page: z.coerce
      .number()
      .int()
      .min(1)
      .max(PAGE_MAX, `pages beyond ${PAGE_MAX} are read with the \`after\` cursor of the previous page`)
      .optional(),
    after: z.string().min(1).max(512).optional(),
    limit: z.coerce.number().int().min(1).max(d.cfg.PAGE_LIMIT_MAX).default(20),
    status: status.optional(),
    sort: z.enum(SORTS).default('-createdAt'),
  });
  const batchBody = z.strictObject({
    applicationIds: z.array(applicationId).min(1).max(d.cfg.BATCH_UPDATE_MAX),
    status,
    versions: safeRecord(applicationId, z.number().int().min(1)).optional(),
  });

  r.get('/', requireRole('viewer'), async (req, res) => {
    const { after, page, ...q } = parse(listQuery, req.query, 'query');
    if (after !== undefined && page !== undefined) {
      throw badRequest('invalid request query', {
        errors: [{ in: 'query', path: 'page', message: 'give either page or after, not both' }],
      });
    }
    const cursor = after === undefined ? undefined : decodeCursor(after, q.sort);
    const list = await listApplications(d.c, { ...q, page: page ?? 1, after: cursor }, totals);
    const role = roleOf(req);
    res.json({ ...list, items: list.items.map((doc) => viewFor(role, doc)) });
  });

  r.post('/', requireRole('reviewer'), async (req, res) => {
    const doc = await createApplication(d, parse(createApplicationInput, req.body, 'body'), meta(req));
    res
      .status(201)
      .location(`/api/applications/${doc._id}`)
      .json(viewFor(roleOf(req), doc));
  });

  r.post('/batch-update', requireRole('reviewer'), async (req, res) => {
    const body = parse(batchBody, req.body, 'body');
    const results = await batchUpdateStatus(d, body.applicationIds, body.status, body.versions, meta(req), policy);
    const summary = Object.fromEntries(BATCH_RESULTS.map((k) => [k, results.filter((x) => x.result === k).length]));
    res.json({ results, summary });
  });

  r.get('/:id', requireRole('viewer'), async (req, res) => {
    res.json(viewFor(roleOf(req), await getApplication(d.c, parse(idParams, req.params, 'params').id)));
  });

  r.get('/:id/history', requireRole('viewer'), async (req, res) => {
    res.json({ items: historyFor(roleOf(req), await applicationHistory(d.c, parse(idParams, req.params, 'params').id)) });
  });

  r.put('/:id', requireRole('reviewer'), async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const { version, ...changes } = parse(updateApplicationInput, req.body, 'body');
    res.json(viewFor(roleOf(req), await updateApplication(d, id, version, changes, meta(req), policy)));
  });
  return r;
}
