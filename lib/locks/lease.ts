// Lease locks: acquire (one atomic upsert, expiry checked against the server clock), renew and
// release (both require the grant's token), and the list of held locks.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { MongoServerError, type Db } from 'mongodb';
import { locksCollection } from './collection.js';
import { observeAcquire } from './metrics.js';

export interface Lease {
  key: string;
  token: string;
  fence: number;
  expiresAt: Date;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function checkTtl(ttlMs: number): void {
  if (!Number.isInteger(ttlMs) || ttlMs < 1) throw new TypeError(`lock ttlMs must be a positive integer, got ${ttlMs}`);
}

/**
 * One attempt: ONE atomic upsert on {_id: key}. The pipeline takes the lock only if it is free by
 * the server clock (missing, or expiresAt < $$NOW); otherwise it leaves the document as it is and
 * the returned token is not ours → null. (MongoDB refuses $expr in an upsert's filter, so the
 * expiry test lives in the pipeline; the effect is the same single atomic grant.) Two first-ever
 * acquirers racing to insert: the server retries the losing _id upsert, which then sees it held.
 */
async function tryAcquire(db: Db, key: string, ttlMs: number, owner: string): Promise<Lease | null> {
  const token = randomUUID();
  const free = { $or: [{ $eq: [{ $type: '$expiresAt' }, 'missing'] }, { $lt: ['$expiresAt', '$$NOW'] }] };
  const take = (value: unknown, field: string) => ({ $cond: [free, value, `$${field}`] });
  try {
    const doc = await locksCollection(db).findOneAndUpdate(
      { _id: key },
      [
        {
          $set: {
            token: take({ $literal: token }, 'token'),
            owner: take({ $literal: owner }, 'owner'),
            fence: take({ $add: [{ $ifNull: ['$fence', 0] }, 1] }, 'fence'),
            acquiredAt: take('$$NOW', 'acquiredAt'),
            expiresAt: take({ $add: ['$$NOW', ttlMs] }, 'expiresAt'),
          },
        },
      ],
      { upsert: true, returnDocument: 'after' },
    );
    if (!doc || doc.token !== token) return null;
    return { key, token, fence: doc.fence, expiresAt: doc.expiresAt };
  } catch (e) {
    if (e instanceof MongoServerError && e.code === 11000) return null; // lost the insert race: held
    throw e;
  }
}

/** waitMs: keep trying (backoff 20 ms → 500 ms, jittered) until then; 0 or undefined fails fast. */
export async function acquire(db: Db, key: string, ttlMs: number, opts: { waitMs?: number; owner?: string } = {}): Promise<Lease | null> {
  checkTtl(ttlMs);
  const owner = opts.owner ?? `${hostname()}-${process.pid}`;
  const started = Date.now();
  const deadline = started + Math.max(0, opts.waitMs ?? 0);
  let delay = 20;
  // Bounded by the deadline: every round sleeps at least 10 ms.
  for (;;) {
    const lease = await tryAcquire(db, key, ttlMs, owner);
    if (lease || Date.now() >= deadline) {
      observeAcquire(key, Date.now() - started, lease?.fence);
      return lease;
    }
    await sleep(Math.min(deadline - Date.now(), Math.max(10, delay * (0.5 + Math.random()))));
    delay = Math.min(500, delay * 2);
  }
}

/** Extends a lease the caller still holds (its token is still on the lock); null if it was taken. */
export async function renew(db: Db, lease: Lease, ttlMs: number): Promise<Lease | null> {
  checkTtl(ttlMs);
  const doc = await locksCollection(db).findOneAndUpdate(
    { _id: lease.key, token: lease.token },
    [{ $set: { expiresAt: { $add: ['$$NOW', ttlMs] } } }],
    { returnDocument: 'after' },
  );
  return doc ? { ...lease, expiresAt: doc.expiresAt } : null;
}

/** Frees the lock at once if the caller still holds it. The document (and its fence) stays. */
export async function release(db: Db, lease: Lease): Promise<boolean> {
  const r = await locksCollection(db).updateOne(
    { _id: lease.key, token: lease.token },
    { $set: { expiresAt: new Date(0) }, $unset: { token: '', owner: '' } },
  );
  return r.matchedCount === 1;
}

/** Held (unexpired by the server clock) locks only. */
export async function listLocks(db: Db): Promise<Array<{ key: string; owner: string; fence: number; expiresAt: Date }>> {
  const docs = await locksCollection(db)
    .find({ $expr: { $gt: ['$expiresAt', '$$NOW'] } })
    .sort({ _id: 1 })
    .limit(10_000)
    .toArray();
  return docs.map((d) => ({ key: d._id, owner: d.owner ?? '', fence: d.fence, expiresAt: d.expiresAt }));
}
