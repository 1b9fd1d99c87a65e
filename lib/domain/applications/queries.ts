// Use cases that read applications. They return stored documents; the HTTP layer shapes views.
import type { AuditDoc } from '../audit.js';
import { historyOf } from '../audit.js';
import type { Collections } from '../collections.js';
import { notFound } from '../../errors.js';
import type { CountTotal } from './list-totals.js';
import { applicationExists, findApplication, listPage } from './repository.js';
import type { SortKey } from './schemas.js';
import type { Status } from './status.js';
import type { ApplicationDoc } from './types.js';

/** `countTotal` decides how `total` is counted: see list-totals.ts. */
export async function listApplications(
  c: Collections,
  q: { status?: Status | undefined; sort: SortKey; page: number; limit: number },
  countTotal: CountTotal,
): Promise<{ items: ApplicationDoc[]; page: number; limit: number; total: number }> {
  const { items, total } = await listPage(c, q, countTotal);
  return { items, page: q.page, limit: q.limit, total };
}

export async function getApplication(c: Collections, id: string): Promise<ApplicationDoc> {
  const doc = await findApplication(c, id);
  if (!doc) throw notFound(`application ${id} does not exist`);
  return doc;
}

export async function applicationHistory(c: Collections, id: string): Promise<AuditDoc[]> {
  if (!(await applicationExists(c, id))) throw notFound(`application ${id} does not exist`);
  return historyOf(c, id);
}
