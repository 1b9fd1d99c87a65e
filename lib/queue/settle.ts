// Every write after the claim: renew, complete, retry, dead-letter, release. Each filters on {_id,
// owner: token, state: 'processing'}, so a worker that lost its lease has its write refused (false).
import { BSON, type ClientSession, type Db, type Document, type ObjectId } from 'mongodb';
import { eventsCollection } from './collection.js';
import type { EventDoc, GiveUpReason } from './types.js';

export interface Claimed {
  _id: ObjectId;
  owner: string;
}

/** Complete, retry and dead-letter also require an unexpired lease: past it, another worker may own the event. */
const held = (c: Claimed) => ({ _id: c._id, owner: c.owner, state: 'processing' as const });
const heldAndLive = (c: Claimed) => ({ ...held(c), $expr: { $gt: ['$leaseUntil', '$$NOW'] } });

export async function renewLease(db: Db, c: Claimed, leaseMs: number): Promise<boolean> {
  const r = await eventsCollection(db).updateOne(held(c), [{ $set: { leaseUntil: { $add: ['$$NOW', leaseMs] } } }], {
    writeConcern: { w: 1 },
  });
  return r.matchedCount === 1;
}

function completeUpdate(result: unknown, retentionMs: number): Document[] {
  return [
    {
      $set: {
        state: 'completed',
        result: { $literal: result ?? null },
        completedAt: '$$NOW',
        expireAt: { $add: ['$$NOW', retentionMs] },
      },
    },
    { $unset: ['leaseUntil'] },
  ];
}

export async function completeEvent(db: Db, c: Claimed, result: unknown, retentionMs: number): Promise<boolean> {
  const r = await eventsCollection(db).updateOne(heldAndLive(c), completeUpdate(result, retentionMs));
  return r.matchedCount === 1;
}

/**
 * Completes many claims in ONE bulkWrite (one majority wait for the batch) made of ONE updateMany
 * per owner token and result: the events of a claimed batch share their token, and a no-op or
 * void handler's result is the same null, so a burst of completions is a handful of statements
 * instead of one per event (each statement costs mongod a parse, a plan and a pipeline compile:
 * about half of the per-event cost before, scripts/bench/queue-micro.ts). Each updateMany keeps
 * every guard of a single completion: `_id`, owner token, `processing`, live lease by the server
 * clock, applied atomically per document. Returns the claims whose write was refused (lease
 * lost): found by re-reading when the batch matched fewer than it was given.
 */
export async function completeMany(db: Db, items: Array<{ claim: Claimed; result: unknown }>, retentionMs: number): Promise<Claimed[]> {
  if (items.length === 0) return [];
  const events = eventsCollection(db);
  // Group key: the token and the result as canonical extended JSON (types kept: a Date and its ISO
  // string differ), so every event of a group gets exactly the result its handler returned.
  const groups = new Map<string, { owner: string; result: unknown; ids: ObjectId[] }>();
  for (const i of items) {
    const key = `${i.claim.owner}\u0000${BSON.EJSON.stringify(i.result ?? null, { relaxed: false })}`;
    const g = groups.get(key) ?? { owner: i.claim.owner, result: i.result, ids: [] };
    groups.set(key, g);
    g.ids.push(i.claim._id);
  }
  const r = await events.bulkWrite(
    [...groups.values()].map((g) => ({
      updateMany: {
        filter: { _id: { $in: g.ids }, owner: g.owner, state: 'processing' as const, $expr: { $gt: ['$leaseUntil', '$$NOW'] } },
        update: completeUpdate(g.result, retentionMs),
      },
    })),
    { ordered: false },
  );
  if (r.matchedCount === items.length) return [];
  const done = await events.find({ _id: { $in: items.map((i) => i.claim._id) } }, { projection: { owner: 1, state: 1 } }).toArray();
  const ok = new Set(done.filter((d) => d.state === 'completed').map((d) => `${d._id}:${d.owner}`));
  return items.map((i) => i.claim).filter((c) => !ok.has(`${c._id}:${c.owner}`));
}

/** The errors[] entry of an attempt (server time). */
const errorEntry = (f: { attempt: number; message: string; label: string }) => ({
  attempt: f.attempt,
  at: '$$NOW',
  message: { $literal: f.message },
  owner: { $literal: f.label },
});

export interface RetryInput {
  attempt: number;
  message: string;
  label: string;
  retryInMs: number;
  giveUp?: EventDoc['giveUp'];
}

/**
 * A failed attempt: pending again after retryInMs (server clock), the error recorded. With
 * `giveUp` (the give-up hook threw), the next claim runs the give-up again instead of the handler.
 */
export async function retryEvent(db: Db, c: Claimed, f: RetryInput): Promise<boolean> {
  const r = await eventsCollection(db).updateOne(heldAndLive(c), [
    {
      $set: {
        state: 'pending',
        runAt: { $add: ['$$NOW', f.retryInMs] },
        errors: { $concatArrays: ['$errors', [errorEntry(f)]] },
        ...(f.giveUp ? { giveUp: { $literal: f.giveUp } } : {}),
      },
    },
    { $unset: ['leaseUntil'] },
  ]);
  return r.matchedCount === 1;
}

/**
 * A handler's RescheduleError: back to pending at `at` (not before now, by the server clock), the
 * claim's attempt undone, no error recorded; `reschedules` counts them. Refused (false) without a live lease.
 */
export async function rescheduleEvent(db: Db, c: Claimed, at: Date, reason: string): Promise<boolean> {
  const r = await eventsCollection(db).updateOne(heldAndLive(c), [
    {
      $set: {
        state: 'pending',
        runAt: { $max: ['$$NOW', { $literal: at }] },
        attempts: { $max: [0, { $subtract: ['$attempts', 1] }] },
        reschedules: { $add: [{ $ifNull: ['$reschedules', 0] }, 1] },
        rescheduleReason: { $literal: reason.slice(0, 200) },
      },
    },
    { $unset: ['leaseUntil'] },
  ]);
  return r.matchedCount === 1;
}

export interface DeadInput {
  attempt: number;
  message: string;
  label: string;
  reason: GiveUpReason;
}

/**
 * The dead-letter write, only ever run by giveUp() inside the transaction that also runs the job's
 * onGiveUp hook (lib/queue/give-up.ts): refused (false) unless the caller still holds a live lease.
 */
export async function deadLetterEvent(db: Db, c: Claimed, f: DeadInput, session: ClientSession): Promise<boolean> {
  const r = await eventsCollection(db).updateOne(
    heldAndLive(c),
    [
      {
        $set: {
          state: 'dead',
          deadAt: '$$NOW',
          deadReason: { $literal: f.reason },
          errors: { $concatArrays: ['$errors', [errorEntry(f)]] },
        },
      },
      { $unset: ['leaseUntil', 'giveUp'] },
    ],
    { session },
  );
  return r.matchedCount === 1;
}

/** Gives an unfinished event back (graceful stop): pending again, the interrupted attempt not counted. */
export async function releaseEvent(db: Db, c: Claimed): Promise<boolean> {
  const r = await eventsCollection(db).updateOne(held(c), [
    { $set: { state: 'pending', attempts: { $max: [0, { $subtract: ['$attempts', 1] }] } } },
    { $unset: ['leaseUntil'] },
  ]);
  return r.matchedCount === 1;
}
