// The claim, in two shapes with one filter and one update pipeline: claimOne (a single
// findOneAndUpdate, lowest latency) and claimBatch (several events, usually in two round trips). Which one
// a worker uses is decided by claimMode (claim-rule.ts).
import { randomUUID } from 'node:crypto';
import type { Db, Document, ObjectId } from 'mongodb';
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
 * What a guarded claim (below) wrote to a candidate read as `pending`: the fields claimUpdate sets,
 * computed from the document as read. `startedAt` and `leaseUntil` are the server's in the database;
 * here startedAt is this process's clock (nothing in the worker reads either).
 */
function claimedAsRead(d: EventDoc, token: string): EventDoc {
  return { ...d, state: 'processing', owner: token, attempts: d.attempts + 1, startedAt: new Date() };
}

/**
 * Claims up to `max` events, usually in TWO round trips whatever `max` is: a read of the best
 * candidates (whole documents, on the `claim` index), then ONE updateMany with the same claim filter
 * and update pipeline as claimOne, limited to those ids (MongoDB applies it to each document
 * atomically, so an event another worker took in between simply no longer matches). When every
 * candidate was `pending`, the updateMany also requires each one's `attempts` to be what was read
 * (a candidate claimed by someone else in between and failed since has a higher count; a claim
 * undone since — release, reschedule — leaves errors[] and giveUp as they were; a dead letter
 * retried back to 0 has a longer errors[], which the worker reads only past maxAttempts); if it
 * then modified every candidate, the events we hold are the documents read with claimUpdate
 * applied (claimedAsRead) in everything the worker acts on, and no read-back is needed. Otherwise
 * (a race lost, or a taken-over lease, whose update also rewrites errors[]), a third round trip
 * reads back what carries our fresh token. Every event claimed here
 * obeys the same rules as claimOne: due-and-free or lease-expired by the server clock, a fresh
 * owner token, attempt counted at claim time. Workers use it when the backlog is deep, so that
 * claim round trips are paid per batch, not per event. Returns the events claimed (in claim order)
 * and how many candidates the read found (the backlog seen, ≤ max).
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
  const found = await events.find(filter, { sort: CLAIM_SORT, hint: CLAIM_INDEX_KEY, limit: max }).toArray();
  if (found.length === 0) return { events: [], candidates: 0 };
  const ids = found.map((c) => c._id);
  const token = randomUUID();
  const asRead = found.every((d) => d.state === 'pending') ? attemptsAsRead(found) : undefined;
  const r = await events.updateMany({ _id: { $in: ids }, ...filter, ...(asRead ?? {}) }, claimUpdate(token, leaseMs, leaseFor), {
    writeConcern: { w: 1 },
  });
  if (r.modifiedCount === 0) return { events: [], candidates: found.length };
  if (asRead && r.modifiedCount === found.length) return { events: found.map((d) => claimedAsRead(d, token)), candidates: found.length };
  const claimed = await events.find({ _id: { $in: ids }, owner: token }).toArray();
  const order = new Map(ids.map((id, i) => [String(id), i]));
  claimed.sort((a, b) => order.get(String(a._id))! - order.get(String(b._id))!);
  return { events: claimed, candidates: found.length };
}

/** Filter clause: each candidate still has the attempts count it was read with (usually one group: all 0). */
function attemptsAsRead(found: EventDoc[]): Document {
  const byAttempts = new Map<number, ObjectId[]>();
  for (const d of found) byAttempts.set(d.attempts, [...(byAttempts.get(d.attempts) ?? []), d._id]);
  const groups = [...byAttempts].map(([attempts, ids]) => ({ _id: { $in: ids }, attempts }));
  return groups.length === 1 ? { attempts: groups[0]!.attempts } : { $and: [{ $or: groups }] };
}
