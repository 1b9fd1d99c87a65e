// The `circuit_breakers` collection: one document per vendor, shared by every process. Outcomes
// go into a ring of time buckets (bucket number = floor(server ms / bucketMs)) by one pipeline
// update computed from the server clock; every state transition is a compare-and-set on
// `generation` (the filter names the generation and state the caller saw; the update bumps it).
import type { Collection, Db, Document } from 'mongodb';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface Bucket {
  /** Bucket number: floor(epoch ms / bucketMs) by the server clock. */
  t: number;
  ok: number;
  fail: number;
}

export interface Transition {
  from: BreakerState;
  to: BreakerState;
  generation: number;
  at: Date;
  reason: string;
  by?: string;
}

export interface CircuitBreakerDoc {
  _id: string;
  state: BreakerState;
  /** Bumped by every transition; a transition's filter names the generation it saw. */
  generation: number;
  /** Outcomes of the current generation in its last buckets (closed state only). */
  buckets: Bucket[];
  /** Open: half-open may begin at this server time; null while forced open (stays until forced closed). */
  openUntil: Date | null;
  forced: boolean;
  changedAt: Date;
  /** Half-open: the fencing number and owner of the probe lease registered for this generation. */
  probeFence?: number;
  probeOwner?: string;
  /** Transitions so far, per target state (for tests and the admin view). */
  counts: Record<BreakerState, number>;
  /** The last 20 transitions, oldest first. */
  transitions: Transition[];
  /** Server time of the last write (pipeline updates set it; reads add it). */
  now: Date;
}

export const CIRCUIT_BREAKERS = 'circuit_breakers';
const KEEP_TRANSITIONS = 20;

export function circuitBreakersCollection(db: Db): Collection<CircuitBreakerDoc> {
  return db.collection<CircuitBreakerDoc>(CIRCUIT_BREAKERS);
}

/** Lookups are by _id only (one small document per vendor): the collection is created, no index is added. */
export async function ensureCircuitBreakerIndexes(db: Db): Promise<void> {
  const exists = await db.listCollections({ name: CIRCUIT_BREAKERS }, { nameOnly: true }).hasNext();
  if (!exists)
    await db.createCollection(CIRCUIT_BREAKERS).catch((e: { code?: number }) => {
      if (e.code !== 48) throw e; // NamespaceExists: another migrator made it first
    });
}

/** Creates the vendor's document (closed, generation 1) unless it exists. */
export async function ensureBreakerDoc(db: Db, vendor: string): Promise<void> {
  await circuitBreakersCollection(db).updateOne(
    { _id: vendor },
    {
      $setOnInsert: {
        state: 'closed',
        generation: 1,
        buckets: [],
        openUntil: null,
        forced: false,
        changedAt: new Date(),
        counts: { closed: 0, open: 0, half_open: 0 },
        transitions: [],
        now: new Date(),
      },
    },
    { upsert: true },
  );
}

/** The document with the server's current time in `now` (one read; aggregation supplies $$NOW). */
export async function readBreaker(db: Db, vendor: string): Promise<CircuitBreakerDoc | null> {
  const [doc] = await circuitBreakersCollection(db)
    .aggregate<CircuitBreakerDoc>([{ $match: { _id: vendor } }, { $set: { now: '$$NOW' } }])
    .toArray();
  return doc ?? null;
}

/**
 * Adds ok/fail counts to the current bucket of `generation` and drops buckets older than the
 * window, in one atomic update. A stale generation matches nothing: outcomes of calls permitted
 * before a transition are dropped, so they cannot trip (or clear) the new state. Returns the
 * document after, or null when the generation has moved on.
 */
export async function addOutcomes(
  db: Db,
  vendor: string,
  generation: number,
  ok: number,
  fail: number,
  bucketMs: number,
  windowBuckets: number,
): Promise<CircuitBreakerDoc | null> {
  const sec = { $floor: { $divide: [{ $toLong: '$$NOW' }, bucketMs] } };
  return circuitBreakersCollection(db).findOneAndUpdate(
    { _id: vendor, generation, state: 'closed' },
    [
      { $set: { _t: sec, now: '$$NOW' } },
      { $set: { _cur: { $first: { $filter: { input: '$buckets', cond: { $eq: ['$$this.t', '$_t'] } } } } } },
      {
        $set: {
          buckets: {
            $concatArrays: [
              {
                $filter: {
                  input: '$buckets',
                  cond: { $and: [{ $gt: ['$$this.t', { $subtract: ['$_t', windowBuckets] }] }, { $ne: ['$$this.t', '$_t'] }] },
                },
              },
              [{ t: '$_t', ok: { $add: [{ $ifNull: ['$_cur.ok', 0] }, ok] }, fail: { $add: [{ $ifNull: ['$_cur.fail', 0] }, fail] } }],
            ],
          },
        },
      },
      { $unset: ['_t', '_cur'] },
    ],
    { returnDocument: 'after' },
  );
}

export interface TransitionSpec {
  /** What the caller saw: the CAS filter. */
  from: BreakerState;
  generation: number;
  to: BreakerState;
  reason: string;
  by?: string;
  /** to open: cool-down before half-open; null = forced (no automatic half-open). */
  coolDownMs?: number | null;
  /** Extra filter conditions (the probe's fence, "cool-down over" by the server clock). */
  where?: Document;
}

/** One compare-and-set transition; the document after, or null when another process moved first. */
export async function transition(db: Db, vendor: string, s: TransitionSpec): Promise<CircuitBreakerDoc | null> {
  const next = { $add: ['$generation', 1] };
  const entry = { from: '$state', to: s.to, generation: next, at: '$$NOW', reason: { $literal: s.reason }, by: { $literal: s.by ?? null } };
  const openUntil = s.to === 'open' && s.coolDownMs !== null ? { $add: ['$$NOW', s.coolDownMs ?? 0] } : null;
  return circuitBreakersCollection(db).findOneAndUpdate(
    { _id: vendor, generation: s.generation, state: s.from, ...(s.where ?? {}) },
    [
      {
        $set: {
          state: s.to,
          generation: next,
          buckets: [],
          openUntil,
          forced: s.to === 'open' && s.coolDownMs === null,
          changedAt: '$$NOW',
          now: '$$NOW',
          [`counts.${s.to}`]: { $add: [{ $ifNull: [`$counts.${s.to}`, 0] }, 1] },
          transitions: { $slice: [{ $concatArrays: [{ $ifNull: ['$transitions', []] }, [entry]] }, -KEEP_TRANSITIONS] },
        },
      },
      { $unset: ['probeFence', 'probeOwner'] },
    ],
    { returnDocument: 'after' },
  );
}

/**
 * Half-open: records the probe lease's fence and owner, unless a lease with the same or a newer
 * fence was registered (a holder whose lease ran out and was re-granted cannot overwrite it).
 */
export async function registerProbe(
  db: Db,
  vendor: string,
  generation: number,
  fence: number,
  owner: string,
): Promise<CircuitBreakerDoc | null> {
  return circuitBreakersCollection(db).findOneAndUpdate(
    { _id: vendor, generation, state: 'half_open', probeFence: { $not: { $gte: fence } } },
    [{ $set: { probeFence: fence, probeOwner: { $literal: owner }, now: '$$NOW' } }],
    { returnDocument: 'after' },
  );
}
