// Access-control checks against a real mongod: run `fn` as the user in `uri` and say what the
// server answered.
import { MongoClient, MongoServerError } from 'mongodb';

/** 'ok', or the server's error code name (e.g. Unauthorized). */
export async function attempt(uri: string, fn: (c: MongoClient) => Promise<unknown>): Promise<string> {
  const c = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  try {
    await fn(c);
    return 'ok';
  } catch (e) {
    if (e instanceof MongoServerError) return e.codeName ?? String(e.code);
    throw e;
  } finally {
    await c.close();
  }
}
