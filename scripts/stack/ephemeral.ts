// A throwaway stack for load tests and benchmarks: its own mongod in a temp dir (or a fresh
// database on MONGO_URI when set), migrations, N API instances and nginx on free ports; optionally
// workers (one process per role) and the credit-bureau simulator on a free port (`bureau`: its
// mode; it signs with a fresh secret the API instances verify).
// stop() tears everything down and removes the temp files.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collections, type Collections } from '../../lib/domain/collections.js';
import { connectMongo, type Mongo } from '../../lib/db/mongo.js';
import { createLogger } from '../../lib/logger.js';
import { migrateExclusively } from '../../lib/migrations/exclusive.js';
import { mongoForRun } from '../mongod/launch.js';
import { freePorts } from './ports.js';
import { generateSecret } from '../../lib/webhooks/standard-webhooks.js';
import { startStack, type Stack } from './stack.js';

export interface Ephemeral {
  stack: Stack;
  mongo: Mongo;
  c: Collections;
  uri: string;
  dbName: string;
  runDir: string;
  stop(): Promise<void>;
}

export async function ephemeralStack(o: {
  label: string;
  instances?: number;
  env?: Record<string, string>;
  nodeBin?: string;
  nginxAccessLog?: string;
  /** Worker processes to run, one per role (default none). */
  workerRoles?: readonly string[];
  /** Run the credit-bureau simulator for the approval worker in this mode (default: no bureau). */
  bureau?: { mode: 'sync' | 'async' };
  /** Runs before the API starts (seeding). */
  prepare?: (c: Collections, mongo: Mongo) => Promise<void>;
  log?: (m: string) => void;
}): Promise<Ephemeral> {
  const log = o.log ?? (() => {});
  const runDir = mkdtempSync(join(tmpdir(), `creditdesk-${o.label}-`));
  const server = await mongoForRun(o.label, log);
  const uri = server.uri;
  const [nginxPort, bureauPort, ...apiPorts] = await freePorts((o.instances ?? 3) + 2);
  const dbName = `${o.label.replace(/[^A-Za-z0-9_]/g, '_')}_${randomBytes(3).toString('hex')}`;
  const mongo = await connectMongo(uri, dbName, `creditdesk-${o.label}`);
  const cleanup = async () => {
    if (!server.started) await mongo.db.dropDatabase().catch(() => {});
    await mongo.close().catch(() => {});
    await server.stop();
    rmSync(runDir, { recursive: true, force: true });
  };
  try {
    await migrateExclusively(mongo.db, {
      log: createLogger({ level: 'warn', name: o.label, instance: o.label }),
      batchSize: 1000,
      pauseMs: 0,
    });
    const c = collections(mongo.db);
    await o.prepare?.(c, mongo);
    const stack = await startStack({
      mongoUri: uri,
      dbName,
      sessionSecrets: randomBytes(32).toString('hex'),
      apiPorts,
      nginxPort: nginxPort!,
      runDir,
      // Plain HTTP on loopback: production mode would demand TLS for logins (the __Host- cookie).
      env: { NODE_ENV: 'development', LOG_LEVEL: 'info', ...o.env },
      log,
      ...(o.nodeBin ? { nodeBin: o.nodeBin } : {}),
      ...(o.nginxAccessLog ? { nginxAccessLog: o.nginxAccessLog } : {}),
      ...(o.workerRoles ? { workerRoles: o.workerRoles } : {}),
      ...(o.bureau ? { bureau: { port: bureauPort!, webhookSecret: generateSecret(), mode: o.bureau.mode } } : {}),
    });
    return {
      stack,
      mongo,
      c,
      uri,
      dbName,
      runDir,
      async stop() {
        await stack.stop();
        await cleanup();
      },
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
