// The `events` and `queue_controls` collections and the indexes that serve every queue query.
import type { Collection, Db, IndexDescription } from 'mongodb';
import type { EventDoc } from './types.js';

export interface QueueControlDoc {
  _id: string;
  paused: boolean;
  by?: string;
  at: Date;
}

const EVENTS = 'events';
const QUEUE_CONTROLS = 'queue_controls';

export function eventsCollection(db: Db): Collection<EventDoc> {
  return db.collection<EventDoc>(EVENTS);
}

export function controlsCollection(db: Db): Collection<QueueControlDoc> {
  return db.collection<QueueControlDoc>(QUEUE_CONTROLS);
}

export const CLAIM_INDEX = 'claim';
export const RECOVERED_INDEX = 'recovered';
export const TTL_INDEX = 'ttl_completed';
/** Indexes earlier versions created that EVENT_INDEXES replaced (dropped by migrateQueueIndexes). */
export const RETIRED_EVENT_INDEXES = ['ttl_expireAt'] as const;
export const CLAIM_INDEX_KEY = { state: 1, type: 1, priority: -1, runAt: 1, leaseUntil: 1, attempts: 1, recoveries: 1 } as const;

/**
 * `claim` serves the claim (state + type points, sorted priority desc, runAt asc, runAt bounded),
 * and its trailing attempts/recoveries make queueStats a covered scan. They cost nothing extra on
 * writes: every write that changes them also changes state, which rewrites the key anyway.
 */
export const EVENT_INDEXES: IndexDescription[] = [
  { key: CLAIM_INDEX_KEY, name: CLAIM_INDEX },
  { key: { dedupeKey: 1 }, name: 'dedupeKey_unique', unique: true, partialFilterExpression: { dedupeKey: { $type: 'string' } } },
  // Only completed events carry expireAt: a partial TTL index holds a key for those alone, instead
  // of a null key for every live event that each publish inserts and each completion rewrites.
  { key: { expireAt: 1 }, name: TTL_INDEX, expireAfterSeconds: 0, partialFilterExpression: { expireAt: { $exists: true } } },
  { key: { deadAt: -1, type: 1 }, name: 'dead_letters', partialFilterExpression: { state: 'dead' } },
  // Only events that were ever taken over from an expired lease: queueStats sums their recoveries
  // without scanning every completed event.
  { key: { state: 1, type: 1, recoveries: 1 }, name: 'recovered', partialFilterExpression: { recoveries: { $gt: 0 } } },
];

export async function ensureQueueIndexes(db: Db): Promise<void> {
  await eventsCollection(db).createIndexes(EVENT_INDEXES);
}

/**
 * Brings an existing `events` collection to EVENT_INDEXES: drops the retired indexes, then creates
 * what is missing. Idempotent; if it stops between the two steps, completed events only expire
 * once it runs again.
 */
export async function migrateQueueIndexes(db: Db): Promise<void> {
  const events = eventsCollection(db);
  const existing = new Set(
    (
      await events
        .listIndexes()
        .toArray()
        .catch(() => [])
    ).map((i) => String(i.name)),
  );
  for (const name of RETIRED_EVENT_INDEXES) if (existing.has(name)) await events.dropIndex(name);
  await ensureQueueIndexes(db);
}
