// Mongo plumbing for applications: nothing here knows about HTTP.
import type { ClientSession, Filter, Sort } from 'mongodb';
import type { Actor, ApplicationDoc, Collections } from '../../db/collections.js';
import type { CountTotal } from './list-totals.js';
import type { Status } from './status.js';

export const SORTS = ['createdAt', '-createdAt', 'amount', '-amount', 'updatedAt', '-updatedAt'] as const;
export type SortKey = (typeof SORTS)[number];

/** Each sort ends on _id so the order is total (stable pages); an index serves every combination. */
export function sortSpec(key: SortKey): Sort {
  const dir = key.startsWith('-') ? -1 : 1;
  return { [key.replace('-', '')]: dir, _id: dir };
}

/** Indexes the list endpoint relies on: {field,_id} and {status,field,_id} for each sort field. */
export const APPLICATION_INDEXES = (['createdAt', 'amount', 'updatedAt'] as const).flatMap((f) => [
  { key: { [f]: -1, _id: -1 }, name: `${f}_-1__id_-1` },
  { key: { status: 1, [f]: -1, _id: -1 }, name: `status_1_${f}_-1__id_-1` },
]);

export async function listPage(
  c: Collections, q: { status?: Status | undefined; sort: SortKey; page: number; limit: number }, countTotal: CountTotal,
): Promise<{ items: ApplicationDoc[]; total: number }> {
  const filter: Filter<ApplicationDoc> = q.status ? { status: q.status } : {};
  const [items, total] = await Promise.all([
    c.applications.find(filter).sort(sortSpec(q.sort)).skip((q.page - 1) * q.limit).limit(q.limit).toArray(),
    countTotal(q.status ?? '*', () => c.applications.countDocuments(filter)),
  ]);
  return { items, total };
}

/** Dotted $set paths so a partial applicant only touches the fields it names. */
export function setPaths(changes: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(changes)) {
    if (k === 'applicant' && v && typeof v === 'object') {
      for (const [ak, av] of Object.entries(v)) out[`applicant.${ak}`] = av;
    } else out[k] = v;
  }
  return out;
}

/** The optimistic write: applies only if the stored version still equals `version`. */
export function updateIfVersion(
  c: Collections, id: string, version: number, changes: Record<string, unknown>, actor: Actor, session?: ClientSession,
): Promise<ApplicationDoc | null> {
  return c.applications.findOneAndUpdate(
    { _id: id, version },
    { $set: { ...setPaths(changes), updatedAt: new Date(), updatedBy: actor }, $inc: { version: 1 } },
    { session, returnDocument: 'after' },
  );
}
