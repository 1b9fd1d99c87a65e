// Use cases that read applications. They return stored documents; the HTTP layer shapes views.
import type { AuditDoc } from '../audit.js';
import { historyOf } from '../audit.js';
import type { Collections } from '../collections.js';
import { notFound } from '../../errors.js';
import type { CountTotal } from './list-totals.js';
import { cursorAfter } from './cursor.js';
import { applicationExists, findApplication, type ListQuery, listPage } from './repository.js';
import type { ApplicationDoc } from './types.js';

/** `countTotal` decides how `total` is counted: see list-totals.ts. */
/** `next` continues after the last item (`?after=`) when the page is full, else null. */
export async function listApplications(
  c: Collections,
  q: ListQuery,
  countTotal: CountTotal,
): Promise<{ items: ApplicationDoc[]; page: number | null; limit: number; total: number; next: string | null }> {
  const { items, total } = await listPage(c, q, countTotal);
  const last = items.at(-1);
  const next = last && items.length === q.limit ? cursorAfter(q.sort, last) : null;
  return { items, page: q.after ? null : q.page, limit: q.limit, total, next };
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
