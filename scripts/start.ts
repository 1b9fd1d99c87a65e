// `npm start`: the whole local stack. A local mongod (single-node replica set, data in
// .data/mongod) unless MONGO_URI is set, migrations, three API instances (3001–3003), the
// workers (one process per role), and nginx in front on http://127.0.0.1:8080, rendered from the
// canonical nginx.conf. Creates the first admin. Ctrl-C stops everything, front to back.
//
// Settings (environment): NGINX_PORT (or PORT) 8080 · API_INSTANCES 3 · API_BASE_PORT 3001 ·
// WORKER_HTTP_BASE_PORT 9101 (worker health/metrics) · PAYMENT_GATEWAY_PORT 4100 ·
// MONGO_URI / MONGO_PORT 27018 / MONGO_DB · SESSION_SECRETS (default: a dev secret in .data) ·
// DATA_DIR (.data).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { collections } from '../lib/db/collections.js';
import { connectMongo } from '../lib/db/mongo.js';
import { createUser } from '../lib/domain/users/users.js';
import { createLogger } from '../lib/logger.js';
import { migrateExclusively } from '../lib/migrations/exclusive.js';
import { EMBEDDED_PORT_DEFAULT } from './lib/cli.js';
import { launchMongod, type RunningMongo } from './mongod/launch.js';
import { PROJECT_ROOT } from './mongod/resolve.js';
import { assertPortsFree, startStack, WORKER_ROLES, type Stack } from './stack/stack.js';

const env = process.env;
/** Local state: mongod data, logs, nginx prefix, dev secret, first admin (DATA_DIR, default .data). */
const DATA = resolve(env.DATA_DIR || join(PROJECT_ROOT, '.data'));
const say = (m: string) => console.log(`[creditdesk] ${m}`);

function intSetting(name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  const v = raw === undefined || raw === '' ? def : Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) { say(`${name} must be an integer ${min}..${max} (got ${raw})`); process.exit(2); }
  return v;
}
const nginxPort = intSetting(env.NGINX_PORT !== undefined ? 'NGINX_PORT' : 'PORT', 8080, 1, 65535);
const instances = intSetting('API_INSTANCES', 3, 1, 32);
const basePort = intSetting('API_BASE_PORT', 3001, 1, 65535 - instances);
const apiPorts = Array.from({ length: instances }, (_, i) => basePort + i);
const workerHttpBasePort = intSetting('WORKER_HTTP_BASE_PORT', 9101, 1, 65535 - WORKER_ROLES.length);
const paymentGatewayPort = intSetting('PAYMENT_GATEWAY_PORT', 4100, 1, 65535);
const log = createLogger({ level: 'info', name: 'start', instance: 'local' });

/** A dev session secret kept in .data so sessions survive restarts of the local stack. */
function devSecret(): string {
  const file = join(DATA, 'session-secret');
  if (!existsSync(file)) { mkdirSync(DATA, { recursive: true }); writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 }); }
  return readFileSync(file, 'utf8').trim();
}

let mongod: RunningMongo | undefined;
let stack: Stack | undefined;
let stopped = false;
async function stop(code = 0): Promise<void> {
  if (stopped) return;
  stopped = true;
  say('stopping: nginx, then workers and API instances (draining), then MongoDB…');
  await stack?.stop();
  await mongod?.stop();
  say('stopped');
  process.exit(code);
}
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());

try {
  // Check every port before starting anything, so a taken port costs nothing to fix.
  await assertPortsFree([
    ...apiPorts.map((port, i) => ({ port, what: `API instance api-${i + 1}; set API_BASE_PORT` })),
    { port: nginxPort, what: 'nginx; set NGINX_PORT' },
    { port: paymentGatewayPort, what: 'the payment-gateway simulator; set PAYMENT_GATEWAY_PORT' },
    ...WORKER_ROLES.map((r, i) => ({ port: workerHttpBasePort + i, what: `worker-${r} health and metrics; set WORKER_HTTP_BASE_PORT` })),
  ]);
  let uri = env.MONGO_URI;
  if (!uri) {
    mongod = await launchMongod({ dbPath: join(DATA, 'mongod'), port: Number(env.MONGO_PORT ?? EMBEDDED_PORT_DEFAULT), log: say });
    uri = mongod.uri;
  }
  const dbName = env.MONGO_DB ?? 'creditdesk';
  const mongo = await connectMongo(uri, dbName, 'creditdesk-start');
  await migrateExclusively(mongo.db, { log, batchSize: 1000, pauseMs: 0 });
  const c = collections(mongo.db);
  let firstAdmin = '';
  if ((await c.users.countDocuments({}, { limit: 1 })) === 0) {
    const password = randomBytes(12).toString('base64url');
    await createUser(c, { email: 'admin@creditdesk.local', password, role: 'admin' });
    firstAdmin = `first admin created: admin@creditdesk.local / ${password} (shown once; saved in ${join(DATA, 'first-admin.txt')})`;
    writeFileSync(join(DATA, 'first-admin.txt'), `admin@creditdesk.local\n${password}\n`, { mode: 0o600 });
  }
  await mongo.close();

  stack = await startStack({
    mongoUri: uri, dbName, sessionSecrets: env.SESSION_SECRETS ?? devSecret(), apiPorts, nginxPort,
    runDir: DATA, workerRoles: WORKER_ROLES, log: say, paymentGatewayPort, workerHttpBasePort,
    onUnexpectedExit: (ch, code) => {
      say(`${ch.name} exited unexpectedly (code ${code}); see ${ch.logFile}. Stopping the stack.`);
      void stop(1);
    },
  });
  const url = stack.url;
  say(`ready: ${url}  (through nginx to ${apiPorts.map((p) => `127.0.0.1:${p}`).join(', ')}; logs in ${join(DATA, 'logs')}, nginx access log in ${join(DATA, 'nginx', 'access.log')})`);
  if (firstAdmin) say(firstAdmin);
  else if (existsSync(join(DATA, 'first-admin.txt'))) say(`first admin: see ${join(DATA, 'first-admin.txt')}`);
  say(`log in: curl -c jar -H 'content-type: application/json' -d '{"email":"admin@creditdesk.local","password":"…"}' ${url}/api/auth/login`);
  say(`        then: curl -b jar ${url}/api/applications   (send the returned csrfToken as X-CSRF-Token on writes)`);
  say('more users: npm run create-admin -- --email … --password … --role admin|reviewer|viewer');
  say('Ctrl-C stops everything.');
} catch (e) {
  say(`start failed: ${(e as Error).message}`);
  await stop(1);
}
