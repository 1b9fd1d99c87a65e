// Publishing events, alone or inside the caller's transaction (outbox). Times come from the server.
import { ObjectId, type ClientSession, type Db, type Document } from 'mongodb';
import { traceparentFor } from '../tracing.js';
import { eventsCollection } from './collection.js';
import type { EventDoc } from './types.js';

/** No maxAttempts here: the attempt budget belongs to the job definition (JobDefinition.maxAttempts). */
export interface PublishOptions {
  dedupeKey?: string;
  runAt?: Date;
  priority?: number;
  session?: ClientSession;
  requestId?: string;
}

/** Field values for a new event, as an update pipeline stage that keeps an existing event unchanged. */
function newEventStage(type: string, payload: object, o: PublishOptions): Document {
  const trace = traceparentFor(o.requestId); // W3C trace context of the publishing request/event (lib/tracing.ts)
  const fields: Record<string, unknown> = {
    type: { $literal: type },
    payload: { $literal: payload },
    state: 'pending',
    priority: o.priority ?? 0,
    runAt: o.runAt ? { $literal: o.runAt } : '$$NOW',
    attempts: 0,
    errors: { $literal: [] },
    recoveries: 0,
    createdAt: '$$NOW',
    ...(o.dedupeKey !== undefined ? { dedupeKey: { $literal: o.dedupeKey } } : {}),
    ...(o.requestId !== undefined ? { requestId: { $literal: o.requestId } } : {}),
    ...(trace !== undefined ? { trace: { $literal: trace } } : {}),
  };
  // Only a document without createdAt (the one this upsert inserts) takes the new values; an
  // existing (duplicate) event keeps every field as it was, so the write changes nothing.
  const set: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) set[k] = { $cond: [{ $eq: [{ $type: '$createdAt' }, 'missing'] }, v, `$${k}`] };
  return { $set: set };
}

/**
 * One upsert: a new event gets createdAt/runAt from the server clock. With a dedupeKey, publishing
 * again returns the first event's id with duplicate: true. Inside a transaction (`session`) the
 * upsert takes a write lock on the key, so a concurrent duplicate cannot abort the caller's
 * transaction with a duplicate-key error; the unique index stays the guarantee.
 */
export async function publish(
  db: Db,
  type: string,
  payload: object,
  opts: PublishOptions = {},
): Promise<{ id: ObjectId; duplicate: boolean }> {
  const events = eventsCollection(db);
  const filter = opts.dedupeKey !== undefined ? { dedupeKey: opts.dedupeKey } : { _id: new ObjectId() };
  const r = await events.updateOne(filter, [newEventStage(type, payload, opts)], {
    upsert: true,
    ...(opts.session ? { session: opts.session } : {}),
  });
  if (r.upsertedId) return { id: r.upsertedId, duplicate: false };
  const existing = await events.findOne(filter, { projection: { _id: 1 }, ...(opts.session ? { session: opts.session } : {}) });
  if (!existing) throw new Error(`publish: event with dedupeKey ${opts.dedupeKey} vanished`);
  return { id: existing._id, duplicate: true };
}

/** One event for publishAll: its type, payload and options (the session is publishAll's). */
export interface Publication {
  type: string;
  payload: object;
  opts?: Omit<PublishOptions, 'session'>;
}

/**
 * Many publish() calls as ONE bulk write of the same upserts (same dedupe rule, server clock), in
 * the caller's transaction when `session` is given: a group commit's outbox costs one round trip.
 */
export async function publishAll(db: Db, items: readonly Publication[], session?: ClientSession): Promise<void> {
  if (items.length === 0) return;
  const ops = items.map(({ type, payload, opts = {} }) => ({
    updateOne: {
      filter: opts.dedupeKey !== undefined ? { dedupeKey: opts.dedupeKey } : { _id: new ObjectId() },
      update: [newEventStage(type, payload, opts)],
      upsert: true,
    },
  }));
  await eventsCollection(db).bulkWrite(ops, { ordered: true, ...(session ? { session } : {}) });
}

/**
 * Bulk publish with one insertMany (no dedupe; createdAt/runAt from this process's clock).
 * For seeding and benchmarks; use publish() for anything that needs dedupe or a transaction.
 */
export async function publishMany(db: Db, type: string, payloads: object[], opts: { priority?: number } = {}): Promise<ObjectId[]> {
  if (payloads.length === 0) return [];
  const now = new Date();
  const docs: EventDoc[] = payloads.map((payload) => ({
    _id: new ObjectId(),
    type,
    payload,
    state: 'pending',
    priority: opts.priority ?? 0,
    runAt: now,
    attempts: 0,
    errors: [],
    recoveries: 0,
    createdAt: now,
  }));
  await eventsCollection(db).insertMany(docs, { ordered: false });
  return docs.map((d) => d._id);
}
