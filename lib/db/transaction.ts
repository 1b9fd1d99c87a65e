import type { ClientSession, MongoClient } from 'mongodb';
import { WRITE_CONCERN } from './mongo.js';

/**
 * Runs fn in a multi-document transaction (retrying transient errors as the driver advises):
 * every write inside commits together or not at all, with the majority + journal write
 * concern of every acknowledged write (WRITE_CONCERN). Used for a
 * state change plus its audit entry and outbox event. fn may run more than once: only writes made
 * with its session count.
 */
export async function inTransaction<T>(client: MongoClient, fn: (session: ClientSession) => Promise<T>): Promise<T> {
  const session = client.startSession();
  try {
    return await session.withTransaction(fn, { readConcern: { level: 'snapshot' }, writeConcern: WRITE_CONCERN });
  } finally {
    await session.endSession();
  }
}
