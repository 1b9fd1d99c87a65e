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
export const CLAIM_INDEX_KEY = { state: 1, type: 1, priority: -1, runAt: 1, leaseUntil: 1, attempts: 1, recoveries: 1 } as const;

/**
 * `claim` serves the claim (state + type points, sorted priority desc, runAt asc, runAt bounded),
 * and its trailing attempts/recoveries make queueStats a covered scan. They cost nothing extra on
 * writes: every write that changes them also changes state, which rewrites the key anyway.
 */
export const EVENT_INDEXES: IndexDescription[] = [
  { key: CLAIM_INDEX_KEY, name: CLAIM_INDEX },
  { key: { dedupeKey: 1 }, name: 'dedupeKey_unique', unique: true, partialFilterExpression: { dedupeKey: { $type: 'string' } } },
  { key: { expireAt: 1 }, name: 'ttl_expireAt', expireAfterSeconds: 0 },
  { key: { deadAt: -1, type: 1 }, name: 'dead_letters', partialFilterExpression: { state: 'dead' } },
  // Only events that were ever taken over from an expired lease: queueStats sums their recoveries
  // without scanning every completed event.
  { key: { state: 1, type: 1, recoveries: 1 }, name: 'recovered', partialFilterExpression: { recoveries: { $gt: 0 } } },
];

export async function ensureQueueIndexes(db: Db): Promise<void> {
  await eventsCollection(db).createIndexes(EVENT_INDEXES);
}
