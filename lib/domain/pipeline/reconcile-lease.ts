// The reconciler's lease ("reconciler" in lib/locks): exactly one worker process runs the
// reconciler at a time. Its fencing number guards the reconciler's own writes: inside each action's
// transaction, checkFence writes to the lock document only if it still carries our token and fence
// and has not expired by the server clock. A holder that was replaced (it stalled past its lease)
// finds nothing to update and its transaction aborts; and because that write touches the lock
// document, a concurrent takeover and the action conflict — one of the two transactions loses.
import type { ClientSession, Db } from 'mongodb';
import { type Lease, locksCollection, StaleFenceError } from '../../locks/index.js';

export const RECONCILER_LOCK = 'reconciler';

export async function checkFence(db: Db, lease: Lease, session: ClientSession): Promise<void> {
  const r = await locksCollection(db).updateOne(
    { _id: lease.key, token: lease.token, fence: lease.fence, $expr: { $gt: ['$expiresAt', '$$NOW'] } },
    [{ $set: { fencedWriteAt: '$$NOW' } }],
    { session },
  );
  if (r.matchedCount !== 1) throw new StaleFenceError(lease.key, lease.fence);
}

/** Who holds the reconciler lease now (unexpired by the server clock), or null. */
export async function reconcilerHolder(db: Db): Promise<{ owner: string; fence: number; expiresAt: Date } | null> {
  const d = await locksCollection(db).findOne({ _id: RECONCILER_LOCK, $expr: { $gt: ['$expiresAt', '$$NOW'] } });
  return d ? { owner: d.owner ?? '', fence: d.fence, expiresAt: d.expiresAt } : null;
}
