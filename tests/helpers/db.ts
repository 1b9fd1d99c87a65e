// A unique database per test file on the real mongod that `npm test` started (MONGO_URI).
import { randomBytes } from 'node:crypto';
import type { Db } from 'mongodb';
import type { Collections } from '../../lib/domain/collections.js';
import { baseSchema, parseEnv } from '../../lib/config.js';
import { contextOf, type Context } from '../../lib/context.js';
import { connectMongo, type Mongo } from '../../lib/db/mongo.js';
import { createLogger } from '../../lib/logger.js';
import { MIGRATIONS } from '../../lib/migrations/list.js';
import { runMigrations } from '../../lib/migrations/runner.js';

export const silentLog = createLogger({ level: 'silent', name: 'test', instance: 'test' });

function mongoUri(): string {
  const uri = process.env.MONGO_URI;
  if (!uri) throw new Error('MONGO_URI is not set: run the tests with `npm test` (it starts a real mongod)');
  return uri;
}

/** `ctx` is a process context on the test's database, for calling use cases directly. */
export interface TestDb {
  mongo: Mongo;
  c: Collections;
  ctx: Context;
  dbName: string;
  uri: string;
  close(): Promise<void>;
}

export async function testDb(label: string, opts: { migrate?: boolean } = {}): Promise<TestDb> {
  const dbName = `t_${label.replace(/[^A-Za-z0-9]/g, '_').slice(0, 30)}_${randomBytes(4).toString('hex')}`;
  const mongo = await connectMongo(mongoUri(), dbName, `test-${label}`);
  if (opts.migrate !== false) await runMigrations(mongo.db, MIGRATIONS, { log: silentLog, batchSize: 1000, pauseMs: 0 });
  const ctx = contextOf(parseEnv(baseSchema, { MONGO_URI: mongoUri(), MONGO_DB: dbName }), silentLog, mongo);
  return {
    mongo,
    c: ctx.c,
    ctx,
    dbName,
    uri: mongoUri(),
    async close() {
      await mongo.db.dropDatabase().catch(() => {});
      await mongo.close();
    },
  };
}

/**
 * Every document of the database as one string, for "a rejected request changed nothing" checks.
 * Sessions and login counters are left out: a refused request may legitimately touch them.
 */
/** Every collection's documents as one string; `except` leaves out collections a refusal is meant to write (error_log). */
export async function databaseSnapshot(db: Db, opts: { except?: readonly string[] } = {}): Promise<string> {
  const names = (await db.listCollections().toArray())
    .map((c) => c.name)
    .filter((n) => n !== 'sessions' && n !== 'login_attempts' && !n.startsWith('system.') && !opts.except?.includes(n))
    .sort();
  const out: Record<string, unknown> = {};
  for (const n of names)
    out[n] = await db
      .collection(n)
      .find({}, { sort: { _id: 1 } })
      .toArray();
  return JSON.stringify(out);
}
