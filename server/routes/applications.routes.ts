import { Router, type Request } from 'express';
import { z } from 'zod';
import { BATCH_RESULTS, batchUpdateStatus, createApplication, updateApplication } from '../../lib/domain/applications/commands.js';
import { cachedTotals } from '../../lib/domain/applications/list-totals.js';
import { applicationHistory, getApplication, listApplications } from '../../lib/domain/applications/queries.js';
import { SORTS, applicationId, createApplicationInput, status, updateApplicationInput } from '../../lib/domain/applications/schemas.js';
import { decodeCursor } from '../../lib/domain/applications/cursor.js';
import { historyFor, viewFor } from '../../lib/domain/applications/view.js';
import { badRequest } from '../../lib/errors.js';
import { safeRecord } from '../../lib/validation.js';
import type { ApiContext } from '../context.js';
import { actor, roleOf } from '../middleware/auth.js';
import { routes } from '../openapi/operation.js';
import { applicationList, applicationView, auditEntry, batchResults } from '../openapi/schemas.js';
import { sampleApplicationBody } from '../openapi/examples.js';

const idParams = z.strictObject({ id: applicationId });
/** Pages reachable with `page`; deeper pages use the keyset cursor `after` (index range, no skip). */
export const PAGE_MAX = 100;
const tags = ['applications'];
const notFound = { description: 'no such application' };

export function applicationRoutes(d: ApiContext): Router {
  const r = Router();
  const t = routes(r);
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

  t.get(
    '/',
    {
      summary: 'List applications (page, or keyset cursor `after`), filtered by status, in one of the indexed orders',
      tags,
      security: 'session',
      role: 'viewer',
      query: listQuery,
      responses: { 200: { description: 'one page', schema: applicationList } },
    },
    async ({ query: { after, page, ...q } }, req, res) => {
      if (after !== undefined && page !== undefined) {
        throw badRequest('invalid request query', {
          errors: [{ in: 'query', path: 'page', message: 'give either page or after, not both' }],
        });
      }
      const cursor = after === undefined ? undefined : decodeCursor(after, q.sort);
      const list = await listApplications(d.c, { ...q, page: page ?? 1, after: cursor }, totals);
      const role = roleOf(req);
      res.json({ ...list, items: list.items.map((doc) => viewFor(role, doc)) });
    },
  );

  t.post(
    '/',
    {
      summary: 'Create an application (status submitted)',
      tags,
      security: 'session',
      role: 'reviewer',
      body: createApplicationInput,
      example: sampleApplicationBody,
      responses: {
        201: { description: 'created; Location names it', schema: applicationView, headers: { Location: 'the new application' } },
      },
    },
    async ({ body }, req, res) => {
      const doc = await createApplication(d, body, meta(req));
      res
        .status(201)
        .location(`/api/applications/${doc._id}`)
        .json(viewFor(roleOf(req), doc));
    },
  );

  t.post(
    '/batch-update',
    {
      summary: 'Change the status of up to BATCH_UPDATE_MAX applications in one transaction, each with its own result',
      tags,
      security: 'session',
      role: 'reviewer',
      body: batchBody,
      responses: { 200: { description: 'a result per application and a summary', schema: batchResults } },
    },
    async ({ body }, req, res) => {
      const results = await batchUpdateStatus(d, body.applicationIds, body.status, body.versions, meta(req), policy);
      const summary = Object.fromEntries(BATCH_RESULTS.map((k) => [k, results.filter((x) => x.result === k).length]));
      res.json({ results, summary });
    },
  );

  t.get(
    '/:id',
    {
      summary: 'One application (viewers do not receive the OCR text, ID number or payment reference)',
      tags,
      security: 'session',
      role: 'viewer',
      params: idParams,
      responses: { 200: { description: 'the application', schema: applicationView }, 404: notFound },
    },
    async ({ params }, req, res) => {
      res.json(viewFor(roleOf(req), await getApplication(d.c, params.id)));
    },
  );

  t.get(
    '/:id/history',
    {
      summary: "The application's audit trail, oldest first",
      tags,
      security: 'session',
      role: 'viewer',
      params: idParams,
      responses: { 200: { description: 'its audit entries', schema: z.object({ items: z.array(auditEntry) }) }, 404: notFound },
    },
    async ({ params }, req, res) => {
      res.json({ items: historyFor(roleOf(req), await applicationHistory(d.c, params.id)) });
    },
  );

  t.put(
    '/:id',
    {
      summary: 'Change an application if `version` is still current (optimistic concurrency)',
      tags,
      security: 'session',
      role: 'reviewer',
      params: idParams,
      body: updateApplicationInput,
      example: { version: 1, amount: 25_000 },
      responses: {
        200: { description: 'the changed application', schema: applicationView },
        404: notFound,
        409: { description: 'the version is stale: someone changed it meanwhile (currentVersion in the problem)' },
        422: { description: 'an illegal status move, frozen terms, or a four-eyes refusal' },
      },
    },
    async ({ params, body: { version, ...changes } }, req, res) => {
      res.json(viewFor(roleOf(req), await updateApplication(d, params.id, version, changes, meta(req), policy)));
    },
  );
  return r;
}
