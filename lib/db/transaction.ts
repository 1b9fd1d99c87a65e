import { type ClientSession, MongoBulkWriteError, MongoError, type MongoClient } from 'mongodb';
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
    return await session.withTransaction(
      async (s) => {
        try {
          return await fn(s);
        } catch (e) {
          throw driverErrorOf(e);
        }
      },
      { readConcern: { level: 'snapshot' }, writeConcern: WRITE_CONCERN },
    );
  } finally {
    await session.endSession();
  }
}

/**
 * A bulk write (insertMany, bulkWrite) that failed for a driver reason — the connection closed
 * while the primary went away — throws a MongoBulkWriteError that keeps the driver's error only as
 * `errorResponse`, without its labels: withTransaction would not see TransientTransactionError and
 * would give up instead of retrying. The driver's own error is rethrown instead. A bulk write that
 * failed on the server (e.g. a duplicate key) is kept as it is.
 */
export function driverErrorOf(e: unknown): unknown {
  return e instanceof MongoBulkWriteError && e.errorResponse instanceof MongoError ? e.errorResponse : e;
}
