// The `locks` collection: one document per key, never deleted, so its fence counter only grows.
import type { Collection, Db } from 'mongodb';

export interface LockDoc {
  _id: string;
  /** Token of the current grant (random per acquire); unset on release. */
  token?: string;
  owner?: string;
  /** Fencing number of the latest grant: incremented by every acquire, never reset. */
  fence: number;
  expiresAt: Date;
  acquiredAt?: Date;
}

export const LOCKS = 'locks';

export function locksCollection(db: Db): Collection<LockDoc> {
  return db.collection<LockDoc>(LOCKS);
}

/**
 * No TTL index on purpose: deleting a lock document would restart its fence at 1 and let a stale
 * holder's fenced write through. Lookups are by _id; listLocks scans this small collection.
 */
export async function ensureLockIndexes(db: Db): Promise<void> {
  await locksCollection(db).createIndex({ expiresAt: 1 }, { name: 'expiresAt_1' });
}
