import { MongoClient, type Db, type WriteConcernSettings } from 'mongodb';
import { traceCommands } from '../tracing.js';

export interface Mongo {
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

/**
 * The client's default write concern, explicit rather than the server's implicit default: a
 * write is acknowledged once a majority of the replica set has it in its journal, so nothing the
 * API confirms to a client can be rolled back by a failover. Only the queue's claim and lease
 * renewal override it with w:1 (lib/queue/claim.ts, settle.ts): losing one of those in a failover
 * only means the event is claimed again later, and every later write is checked against the owner
 * token (at-least-once delivery, idempotent effects).
 */
export const WRITE_CONCERN: WriteConcernSettings = { w: 'majority', journal: true };

/** One MongoClient per process, shared by repositories, queue, locks and the session store. */
export async function connectMongo(uri: string, dbName: string, appName: string): Promise<Mongo> {
  const client = new MongoClient(uri, {
    appName,
    maxPoolSize: 50,
    serverSelectionTimeoutMS: 10_000,
    retryWrites: true,
    retryReads: true,
    writeConcern: WRITE_CONCERN,
  });
  traceCommands(client); // MongoDB command spans inside a trace, only when an exporter is configured
  await client.connect();
  let closing: Promise<void> | undefined;
  return { client, db: client.db(dbName), close: () => (closing ??= client.close()) };
}
