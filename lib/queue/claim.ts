// The claim, in two shapes with one filter and one update pipeline: claimOne (a single
// findOneAndUpdate, lowest latency) and claimBatch (several events in three round trips). Which one
// a worker uses is decided by claimMode (claim-rule.ts).
import { randomUUID } from 'node:crypto';
import type { Db, Document } from 'mongodb';
import { CLAIM_INDEX_KEY, eventsCollection } from './collection.js';
import type { EventDoc } from './types.js';

/** Filter of the claim query (server clock via $$NOW); served by the `claim` index. */
export function claimFilter(types: string[]): Document {
  return {
    type: { $in: types },
    $or: [
      { state: 'pending', $expr: { $lte: ['$runAt', '$$NOW'] } },
      { state: 'processing', $expr: { $lt: ['$leaseUntil', '$$NOW'] } },
    ],
  };
}

export const CLAIM_SORT = { priority: -1, runAt: 1 } as const;

/** The lease length: per job type where a job sets its own, else the worker's. */
function leaseExpr(leaseMs: number, leaseFor: Record<string, number>): unknown {
  const branches = Object.entries(leaseFor).map(([t, ms]) => ({ case: { $eq: ['$type', { $literal: t }] }, then: ms }));
  return branches.length === 0 ? leaseMs : { $switch: { branches, default: leaseMs } };
}

/**
 * Sets a fresh owner token and a lease from the server clock, counts the attempt now (so an event
 * that keeps killing its worker still reaches dead-letter), and for a taken-over lease counts a
 * recovery and records the lost attempt in errors[].
 */
function claimUpdate(token: string, leaseMs: number, leaseFor: Record<string, number>): Document[] {
  const recovering = { $eq: ['$state', 'processing'] };
  return [
    {
      $set: {
        recoveries: { $cond: [recovering, { $add: ['$recoveries', 1] }, '$recoveries'] },
        errors: {
          $cond: [
            recovering,
            {
              $concatArrays: [
                '$errors',
                [
                  {
                    attempt: '$attempts',
                    at: '$$NOW',
                    message: 'lease expired: the worker stopped renewing (crashed or stalled)',
                    owner: '$owner',
                  },
                ],
              ],
            },
            '$errors',
          ],
        },
        state: 'processing',
        owner: { $literal: token },
        leaseUntil: { $add: ['$$NOW', leaseExpr(leaseMs, leaseFor)] },
        attempts: { $add: ['$attempts', 1] },
        startedAt: '$$NOW',
      },
    },
  ];
}

/**
 * Claims the best due event of the given types (or one whose lease expired) in ONE
 * findOneAndUpdate, or returns null. Written with w:1: a claim lost in a crash
 * or failover only means the event is claimed again later, which at-least-once delivery allows,
 * and every write after it is checked against the token anyway.
 */
export async function claimOne(db: Db, types: string[], leaseMs: number, leaseFor: Record<string, number> = {}): Promise<EventDoc | null> {
  if (types.length === 0) return null;
  const token = randomUUID();
  return eventsCollection(db).findOneAndUpdate(claimFilter(types), claimUpdate(token, leaseMs, leaseFor), {
    sort: CLAIM_SORT,
    returnDocument: 'after',
    hint: CLAIM_INDEX_KEY,
    writeConcern: { w: 1 },
  });
}

/**
 * Claims up to `max` events in three round trips whatever `max` is: a covered index read of the
 * best candidates' ids, ONE updateMany with the same claim filter and update pipeline as
 * claimOne (MongoDB applies it to each document atomically, so an event another worker took in
 * between simply no longer matches), and a read-back of what carries our fresh token. Every
 * event claimed here obeys the same rules as claimOne: due-and-free or lease-expired by the
 * server clock, a fresh owner token, attempt counted at claim time. Workers use it when the backlog
 * is deep, so that claim round trips are paid per batch, not per event. Returns the events claimed
 * (in claim order) and how many candidates the index read found (the backlog seen, ≤ max).
 */
export async function claimBatch(
  db: Db,
  types: string[],
  leaseMs: number,
  max: number,
  leaseFor: Record<string, number> = {},
): Promise<{ events: EventDoc[]; candidates: number }> {
  if (types.length === 0 || max < 1) return { events: [], candidates: 0 };
  const events = eventsCollection(db);
  const filter = claimFilter(types);
  const candidates = await events.find(filter, { sort: CLAIM_SORT, hint: CLAIM_INDEX_KEY, limit: max, projection: { _id: 1 } }).toArray();
  if (candidates.length === 0) return { events: [], candidates: 0 };
  const ids = candidates.map((c) => c._id);
  const token = randomUUID();
  const r = await events.updateMany({ _id: { $in: ids }, ...filter }, claimUpdate(token, leaseMs, leaseFor), { writeConcern: { w: 1 } });
  if (r.modifiedCount === 0) return { events: [], candidates: candidates.length };
  const claimed = await events.find({ _id: { $in: ids }, owner: token }).toArray();
  const order = new Map(ids.map((id, i) => [String(id), i]));
  claimed.sort((a, b) => order.get(String(a._id))! - order.get(String(b._id))!);
  return { events: claimed, candidates: candidates.length };
}
