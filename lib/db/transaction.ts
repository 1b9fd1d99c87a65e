import type { ClientSession, MongoClient } from 'mongodb';

/**
 * Runs fn in a multi-document transaction (retrying transient errors as the driver advises):
 * every write inside commits together or not at all. Used for a state change plus its audit
 * entry and outbox event.
 */
export async function inTransaction<T>(client: MongoClient, fn: (session: ClientSession) => Promise<T>): Promise<T> {
  const session = client.startSession();
  try {
    let result: T | undefined;
    await session.withTransaction(async (s) => { result = await fn(s); }, {
      readConcern: { level: 'snapshot' },
      writeConcern: { w: 'majority' },
    });
    return result as T;
  } finally {
    await session.endSession();
  }
}
