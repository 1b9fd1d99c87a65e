import { MongoClient, type Db } from 'mongodb';

export interface Mongo {
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

/** One MongoClient per process, shared by repositories, queue, locks and the session store. */
export async function connectMongo(uri: string, dbName: string, appName: string): Promise<Mongo> {
  const client = new MongoClient(uri, {
    appName,
    maxPoolSize: 50,
    serverSelectionTimeoutMS: 10_000,
    retryWrites: true,
    retryReads: true,
  });
  await client.connect();
  let closing: Promise<void> | undefined;
  return { client, db: client.db(dbName), close: () => (closing ??= client.close()) };
}
