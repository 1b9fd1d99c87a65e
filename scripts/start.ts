// `npm start`: the whole local stack on its embedded default. A local mongod (single-node replica
// set, data in .data/mongod) unless MONGO_URI is set, migrations, the API, and a first admin.
// Ctrl-C stops everything cleanly.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { collections } from '../lib/db/collections.js';
import { connectMongo } from '../lib/db/mongo.js';
import { createUser } from '../lib/domain/users/users.js';
import { createLogger } from '../lib/logger.js';
import { MIGRATIONS } from '../lib/migrations/list.js';
import { runMigrations } from '../lib/migrations/runner.js';
import { EMBEDDED_PORT_DEFAULT } from './lib/cli.js';
import { launchMongod, portInUse, type RunningMongo } from './mongod/launch.js';
import { PROJECT_ROOT } from './mongod/resolve.js';
import { Supervisor, waitForHttp } from './stack/supervisor.js';

const DATA = join(PROJECT_ROOT, '.data');
const env = process.env;
const apiPort = Number(env.PORT ?? 3000);
const log = createLogger({ level: 'info', name: 'start', instance: 'local' });
const say = (m: string) => console.log(`[creditdesk] ${m}`);

/** A dev session secret kept in .data so sessions survive restarts of the local stack. */
function devSecret(): string {
  const file = join(DATA, 'session-secret');
  if (!existsSync(file)) { mkdirSync(DATA, { recursive: true }); writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 }); }
  return readFileSync(file, 'utf8').trim();
}

let mongod: RunningMongo | undefined;
const sup = new Supervisor(join(DATA, 'logs'), (c, code) => {
  say(`${c.name} exited unexpectedly (code ${code}); see ${c.logFile}. Stopping the stack.`);
  void stop(1);
});

let stopped = false;
async function stop(code = 0): Promise<void> {
  if (stopped) return;
  stopped = true;
  say('stopping…');
  await sup.stopAll();
  await mongod?.stop();
  say('stopped');
  process.exit(code);
}
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());

try {
  if (await portInUse(apiPort)) throw new Error(`port ${apiPort} is already in use: stop what listens there or set PORT`);
  let uri = env.MONGO_URI;
  if (!uri) {
    mongod = await launchMongod({ dbPath: join(DATA, 'mongod'), port: Number(env.MONGO_PORT ?? EMBEDDED_PORT_DEFAULT), log: say });
    uri = mongod.uri;
  }
  const dbName = env.MONGO_DB ?? 'creditdesk';
  const mongo = await connectMongo(uri, dbName, 'creditdesk-start');
  await runMigrations(mongo.db, MIGRATIONS, { log, batchSize: 1000, pauseMs: 0 });
  const c = collections(mongo.db);
  let firstAdmin = '';
  if ((await c.users.countDocuments({}, { limit: 1 })) === 0) {
    const password = randomBytes(12).toString('base64url');
    await createUser(c, { email: 'admin@creditdesk.local', password, role: 'admin' });
    firstAdmin = `first admin created: admin@creditdesk.local / ${password} (shown once; saved in .data/first-admin.txt)`;
    writeFileSync(join(DATA, 'first-admin.txt'), `admin@creditdesk.local\n${password}\n`, { mode: 0o600 });
  }
  await mongo.close();

  const common = { MONGO_URI: uri, MONGO_DB: dbName, SESSION_SECRETS: env.SESSION_SECRETS ?? devSecret() };
  const api = sup.node('api-1', 'server/main.ts', { ...common, PORT: String(apiPort), INSTANCE_ID: 'api-1' });
  await waitForHttp(`http://127.0.0.1:${apiPort}/ready`, 30_000, () => api.proc.exitCode === null);

  say(`API ready on http://127.0.0.1:${apiPort}  (logs: .data/logs/)`);
  if (firstAdmin) say(firstAdmin);
  say('log in: curl -c jar -H "content-type: application/json" -d \'{"email":"…","password":"…"}\' ' +
    `http://127.0.0.1:${apiPort}/api/auth/login   — more users: npm run create-admin -- --email … --password … --role admin`);
  say('Ctrl-C stops everything.');
} catch (e) {
  say(`start failed: ${(e as Error).message}`);
  await stop(1);
}
