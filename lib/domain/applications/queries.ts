import type { Collections } from '../../db/collections.js';
import { notFound } from '../../errors.js';
import { historyOf } from '../audit.js';
import type { CountTotal } from './list-totals.js';
import { listPage, type SortKey } from './repository.js';
import type { Status } from './status.js';
import { toView, type ApplicationView } from './view.js';

/** `countTotal` decides how `total` is counted: see list-totals.ts. */
export async function listApplications(
  c: Collections, q: { status?: Status | undefined; sort: SortKey; page: number; limit: number },
  countTotal: CountTotal,
): Promise<{ items: ApplicationView[]; page: number; limit: number; total: number }> {
  const { items, total } = await listPage(c, q, countTotal);
  return { items: items.map(toView), page: q.page, limit: q.limit, total };
}

export async function getApplication(c: Collections, id: string): Promise<ApplicationView> {
  const doc = await c.applications.findOne({ _id: id });
  if (!doc) throw notFound(`application ${id} does not exist`);
  return toView(doc);
}

export async function applicationHistory(c: Collections, id: string) {
  if (!(await c.applications.countDocuments({ _id: id }, { limit: 1 }))) throw notFound(`application ${id} does not exist`);
  return historyOf(c, id);
}
