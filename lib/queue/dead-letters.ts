// The dead-letter list and what an operator can do with it: look, retry (one or all), purge.
// requeueDeadLetters/deadLetterIds let a caller retry inside its own transaction (e.g. to bring
// the job's own state back with the event: lib/domain/pipeline/retry-dead-letters.ts).
import type { ClientSession, Db, Filter, ObjectId } from 'mongodb';
import { eventsCollection } from './collection.js';
import type { EventDoc } from './types.js';

const deadFilter = (f: { type?: string; olderThan?: Date }): Filter<EventDoc> => ({
  state: 'dead',
  ...(f.type !== undefined ? { type: f.type } : {}),
  ...(f.olderThan !== undefined ? { deadAt: { $lt: f.olderThan } } : {}),
});

/** Newest first; page is 1-based. */
export async function listDeadLetters(
  db: Db,
  q: { type?: string; page: number; limit: number },
): Promise<{ items: EventDoc[]; total: number; page: number; limit: number }> {
  const page = Math.max(1, Math.floor(q.page));
  const limit = Math.min(1000, Math.max(1, Math.floor(q.limit)));
  const events = eventsCollection(db);
  const filter = deadFilter(q);
  const [items, total] = await Promise.all([
    events
      .find(filter)
      .sort({ deadAt: -1, _id: -1 })
      .skip((page - 1) * limit)
      .limit(limit)
      .toArray(),
    events.countDocuments(filter),
  ]);
  return { items, total, page, limit };
}

/**
 * Back to pending, due now, with a fresh attempt budget (the job definition's maxAttempts); the
 * error history is kept, the give-up reason goes. The next claim runs the handler again, and a
 * new give-up calls the job's onGiveUp again.
 */
const retryUpdate = [
  { $set: { state: 'pending', attempts: 0, runAt: '$$NOW' } },
  { $unset: ['deadAt', 'deadReason', 'giveUp', 'leaseUntil', 'expireAt'] },
];

export async function retryDeadLetter(db: Db, id: ObjectId): Promise<boolean> {
  const r = await eventsCollection(db).updateOne({ _id: id, state: 'dead' }, retryUpdate);
  return r.modifiedCount === 1;
}

export async function retryDeadLetters(db: Db, filter: { type?: string }): Promise<number> {
  const r = await eventsCollection(db).updateMany(deadFilter({ ...(filter.type !== undefined ? { type: filter.type } : {}) }), retryUpdate);
  return r.modifiedCount;
}

/**
 * Inside the caller's session (transaction): puts the events of `ids` that are still dead back to
 * pending as retryDeadLetter does, and returns those it moved (ids that are not dead are skipped).
 */
export async function requeueDeadLetters(db: Db, ids: ObjectId[], session?: ClientSession): Promise<Array<Pick<EventDoc, '_id' | 'type'>>> {
  if (ids.length === 0) return [];
  const events = eventsCollection(db);
  const filter: Filter<EventDoc> = { _id: { $in: ids }, state: 'dead' };
  const opts = session ? { session } : {};
  const dead = await events.find(filter, { projection: { _id: 1, type: 1 }, ...opts }).toArray();
  if (dead.length === 0) return [];
  await events.updateMany({ _id: { $in: dead.map((d) => d._id) }, state: 'dead' }, retryUpdate, opts);
  return dead;
}

/** Ids of up to `limit` dead letters (oldest dead first), optionally of one type. */
export async function deadLetterIds(db: Db, filter: { type?: string }, limit: number): Promise<ObjectId[]> {
  const docs = await eventsCollection(db)
    .find(deadFilter(filter), { projection: { _id: 1 } })
    .sort({ deadAt: 1, _id: 1 })
    .limit(Math.max(1, Math.floor(limit)))
    .toArray();
  return docs.map((d) => d._id);
}

/** Deletes the dead letters matching `filter`, in the caller's transaction when `session` is given. */
export async function purgeDeadLetters(db: Db, filter: { type?: string; olderThan?: Date }, session?: ClientSession): Promise<number> {
  const r = await eventsCollection(db).deleteMany(deadFilter(filter), session ? { session } : {});
  return r.deletedCount;
}

/** The distinct values of `payload.<field>` among the dead letters matching `filter` (a purge's guard). */
export function deadLetterPayloadValues(
  db: Db,
  filter: { type?: string; olderThan?: Date },
  field: string,
  session?: ClientSession,
): Promise<unknown[]> {
  return eventsCollection(db).distinct(`payload.${field}`, deadFilter(filter), session ? { session } : {});
}
