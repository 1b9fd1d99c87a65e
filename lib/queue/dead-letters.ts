// The dead-letter list and what an operator can do with it: look, retry (one or all), purge.
import type { Db, Filter, ObjectId } from 'mongodb';
import { eventsCollection } from './collection.js';
import type { EventDoc } from './types.js';

const deadFilter = (f: { type?: string; olderThan?: Date }): Filter<EventDoc> => ({
  state: 'dead',
  ...(f.type !== undefined ? { type: f.type } : {}),
  ...(f.olderThan !== undefined ? { deadAt: { $lt: f.olderThan } } : {}),
});

/** Newest first; page is 1-based. */
export async function listDeadLetters(
  db: Db, q: { type?: string; page: number; limit: number },
): Promise<{ items: EventDoc[]; total: number; page: number; limit: number }> {
  const page = Math.max(1, Math.floor(q.page));
  const limit = Math.min(1000, Math.max(1, Math.floor(q.limit)));
  const events = eventsCollection(db);
  const filter = deadFilter(q);
  const [items, total] = await Promise.all([
    events.find(filter).sort({ deadAt: -1, _id: -1 }).skip((page - 1) * limit).limit(limit).toArray(),
    events.countDocuments(filter),
  ]);
  return { items, total, page, limit };
}

/** Back to pending, due now, with a fresh attempt budget; the error history is kept. */
const retryUpdate = [
  { $set: { state: 'pending', attempts: 0, runAt: '$$NOW' } },
  { $unset: ['deadAt', 'leaseUntil', 'expireAt'] },
];

export async function retryDeadLetter(db: Db, id: ObjectId): Promise<boolean> {
  const r = await eventsCollection(db).updateOne({ _id: id, state: 'dead' }, retryUpdate);
  return r.modifiedCount === 1;
}

export async function retryDeadLetters(db: Db, filter: { type?: string }): Promise<number> {
  const r = await eventsCollection(db).updateMany(deadFilter({ ...(filter.type !== undefined ? { type: filter.type } : {}) }), retryUpdate);
  return r.modifiedCount;
}

export async function purgeDeadLetters(db: Db, filter: { type?: string; olderThan?: Date }): Promise<number> {
  const r = await eventsCollection(db).deleteMany(deadFilter(filter));
  return r.deletedCount;
}
