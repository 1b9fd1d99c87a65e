// Fenced writes: the protected resource remembers the highest fencing number that wrote to it, and
// a write carrying an older number is refused. This stops a holder whose lease silently expired
// (GC pause, network stall) from overwriting what the next holder wrote.
import { MongoServerError, type Collection, type Document, type Filter, type UpdateFilter } from 'mongodb';
import { StaleFenceError } from './errors.js';
import type { Lease } from './lease.js';

/**
 * Applies `update` to the one document matching `filter` only if that document's `fenceField`
 * (default `fence`) is missing or ≤ lease.fence, and sets it to lease.fence in the same write.
 * Returns false when refused (a newer holder wrote, or no document matches). Use one fence field
 * per lock key guarding the document. `update` must be an operator update ($set, $inc, …).
 */
export async function fencedUpdate<T extends Document>(
  coll: Collection<T>, filter: Filter<T>, update: UpdateFilter<T>, lease: Pick<Lease, 'fence'>,
  opts: { fenceField?: string; upsert?: boolean } = {},
): Promise<boolean> {
  const field = opts.fenceField ?? 'fence';
  const fenced = { $and: [filter, { $or: [{ [field]: { $lte: lease.fence } }, { [field]: { $exists: false } }] }] } as Filter<T>;
  const u = { ...update, $set: { ...(update.$set ?? {}), [field]: lease.fence } } as UpdateFilter<T>;
  try {
    const r = await coll.updateOne(fenced, u, { upsert: opts.upsert ?? false });
    return r.matchedCount === 1 || r.upsertedCount === 1;
  } catch (e) {
    // With upsert, a document guarded by a newer fence makes the insert collide on its key.
    if (opts.upsert && e instanceof MongoServerError && e.code === 11000) return false;
    throw e;
  }
}

/** Same as fencedUpdate but throws StaleFenceError when refused. */
export async function checkFence<T extends Document>(
  coll: Collection<T>, filter: Filter<T>, update: UpdateFilter<T>, lease: Pick<Lease, 'fence' | 'key'>,
  opts: { fenceField?: string } = {},
): Promise<void> {
  if (!(await fencedUpdate(coll, filter, update, lease, opts))) throw new StaleFenceError(lease.key, lease.fence);
}
