// `npm start`: the whole local stack, supervised. A local mongod (single-node replica set, data in
// DATA_DIR/mongod, access control on: keyfile and per-role users in DATA_DIR/mongo-auth, see
// scripts/mongod/auth.ts) unless MONGO_URI is set, migrations, the first admin, then under one supervisor
// (scripts/stack): the payment-gateway simulator, the credit-bureau simulator (BUREAU_SIMULATOR_PORT,
// BUREAU_MODE; it signs its callbacks with a whsec_ secret generated once into
// DATA_DIR/bureau-webhook-secret, which the API instances verify), API_INSTANCES API instances, the worker
// processes of each role (WORKER_SCALE_<ROLE>=min:max: min at start, more with the backlog up to max,
// scripts/stack/autoscaler.ts), and nginx in front on NGINX_PORT. Settings come from launcherSchema in lib/config.ts
// (documented in .env.example).
//
// Supervision: a child that exits unexpectedly (crash, kill -9, even a clean drain nobody asked
// for) is restarted after a backoff (RESTART_BACKOFF_BASE_MS doubling to RESTART_BACKOFF_CAP_MS)
// and counts as up again once it answers its readiness URL; nginx keeps serving through the
// other instances meanwhile. A child that exits CRASH_LOOP_EXITS times within
// CRASH_LOOP_WINDOW_MS stops the stack (exit code 1) with a message naming it and the end of its log.
//
// Stopping (Ctrl-C, SIGTERM, SIGHUP, or the parent `npm` going away): nginx, then the API
// instances and workers together (SIGTERM: they drain; SIGKILL after SHUTDOWN_TIMEOUT_MS + 5 s),
// then the simulators, then MongoDB; prints "stopped".
//
// Signals: package.json runs this file as `exec setsid node --import tsx scripts/start.ts`. No tsx
// CLI parent (its signal relay SIGKILLed the launcher mid-stop); `exec` makes this process npm's
// direct child, so npm forwards SIGINT/SIGTERM to it and waits for it to exit; `setsid` puts it and
// everything it starts in a new session, so a terminal's Ctrl-C (sent to the foreground process
// group) reaches npm only and no child stops before its turn. If this process is SIGKILLed, every
// child, the embedded mongod included, gets SIGTERM from the kernel (setpriv --pdeathsig).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launcherSchema, loadConfigOrExit } from '../lib/config.js';
import { connectMongo } from '../lib/db/mongo.js';
import { collections } from '../lib/domain/collections.js';
import { createUser } from '../lib/domain/users/users.js';
import { createLogger } from '../lib/logger.js';
import { generateSecret } from '../lib/webhooks/standard-webhooks.js';
import { migrateExclusively } from '../lib/migrations/exclusive.js';
import { ensureLocalAuth, localDataDir } from './mongod/auth.js';
import { launchEmbeddedMongo } from './mongod/embedded.js';
import type { RunningMongo } from './mongod/launch.js';
import type { ScalePolicy } from './stack/scale-decision.js';
import { assertPortsFree, stackPorts, startStack, WORKER_ROLES, type Stack, type StackOptions } from './stack/stack.js';

const cfg = loadConfigOrExit(launcherSchema, 'start');
/** Local state: mongod data, logs, nginx prefix, dev secret, first admin. */
const DATA = localDataDir(cfg.DATA_DIR);
const say = (m: string) => console.log(`[creditdesk] ${m}`);
// A closed terminal must not turn the next progress line into a crash in the middle of stopping.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});
const apiPorts = Array.from({ length: cfg.API_INSTANCES }, (_, i) => cfg.API_BASE_PORT + i);
const log = createLogger({ level: 'info', name: 'start', instance: 'local' });

/** A dev secret kept in DATA_DIR (`session-secret`, `partner-key-secret`) so sessions and partner keys survive restarts of the local stack. */
function devSecret(name = 'session-secret'): string {
  const file = join(DATA, name);
  if (!existsSync(file)) {
    mkdirSync(DATA, { recursive: true });
    writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  }
  return readFileSync(file, 'utf8').trim();
}

/** The bureau simulator's webhook secret (whsec_…), generated once into DATA_DIR/bureau-webhook-secret (0600). */
function bureauWebhookSecret(): string {
  const file = join(DATA, 'bureau-webhook-secret');
  if (!existsSync(file)) {
    mkdirSync(DATA, { recursive: true });
    writeFileSync(file, `${generateSecret()}\n`, { mode: 0o600 });
  }
  return readFileSync(file, 'utf8').trim();
}

/** Creates the first admin in an empty database; returns the line to print. */
async function firstAdmin(uri: string): Promise<string> {
  const mongo = await connectMongo(uri, cfg.MONGO_DB, 'creditdesk-start');
  try {
    await migrateExclusively(mongo.db, { log, batchSize: 1000, pauseMs: 0 });
    const c = collections(mongo.db);
    const file = join(DATA, 'first-admin.txt');
    if ((await c.users.countDocuments({}, { limit: 1 })) > 0) return existsSync(file) ? `first admin: see ${file}` : '';
    const password = randomBytes(12).toString('base64url');
    await createUser(c, { email: 'admin@creditdesk.local', password, role: 'admin' });
    mkdirSync(DATA, { recursive: true });
    writeFileSync(file, `admin@creditdesk.local\n${password}\n`, { mode: 0o600 });
    return `first admin created: admin@creditdesk.local / ${password} (shown once; saved in ${file})`;
  } finally {
    await mongo.close();
  }
}

/** Worker autoscaling from WORKER_SCALE_* (roles whose min equals their max run that many processes, unscaled). */
function autoscale(): Pick<StackOptions, 'autoscale'> {
  const scale = { ocr: cfg.WORKER_SCALE_OCR, approval: cfg.WORKER_SCALE_APPROVAL, disbursement: cfg.WORKER_SCALE_DISBURSEMENT };
  const roles = Object.fromEntries(
    Object.entries(scale).map(([role, s]): [string, ScalePolicy] => [
      role,
      {
        min: s.min,
        max: s.max,
        jobsPerProcess: s.jobsPerProcess ?? cfg.WORKER_SCALE_JOBS_PER_PROCESS,
        hysteresis: cfg.WORKER_SCALE_HYSTERESIS,
        upCooldownMs: cfg.WORKER_SCALE_UP_COOLDOWN_MS,
        downCooldownMs: cfg.WORKER_SCALE_DOWN_COOLDOWN_MS,
        maxDueAgeMs: cfg.WORKER_SCALE_MAX_DUE_AGE_MS,
      },
    ]),
  );
  return { autoscale: { roles, intervalMs: cfg.WORKER_SCALE_INTERVAL_MS } };
}

let mongodStarting: Promise<RunningMongo> | undefined;
let starting: Promise<Stack> | undefined;
const abort = new AbortController();
let stopping = false;

async function stop(code: number, why: string): Promise<void> {
  if (stopping) {
    say(`${why}: already stopping`);
    return;
  }
  stopping = true;
  say(
    `${why}: stopping nginx, then the API instances and workers (draining), then the simulators${mongodStarting ? ', then MongoDB' : ''}…`,
  );
  abort.abort();
  const stack = await starting?.catch(() => undefined);
  await stack?.stop();
  const mongod = await mongodStarting?.catch(() => undefined);
  if (mongod) {
    say('stopping MongoDB');
    await mongod.stop();
  }
  say('stopped');
  process.exit(code);
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop(0, signal));
// npm forwards SIGINT/SIGTERM but not a closed terminal's SIGHUP; when npm goes away, stop too.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) void stop(0, `the parent process ${parent} exited`);
}, 1000).unref();

try {
  const opts: Omit<StackOptions, 'mongoUri'> = {
    dbName: cfg.MONGO_DB,
    sessionSecrets: cfg.SESSION_SECRETS?.join(',') ?? devSecret(),
    partnerKeySecrets: cfg.PARTNER_KEY_SECRET?.join(',') ?? devSecret('partner-key-secret'),
    apiPorts,
    nginxPort: cfg.NGINX_PORT,
    runDir: DATA,
    workerRoles: WORKER_ROLES,
    log: say,
    paymentGatewayPort: cfg.PAYMENT_GATEWAY_PORT,
    bureau: { port: cfg.BUREAU_SIMULATOR_PORT, webhookSecret: bureauWebhookSecret(), mode: cfg.BUREAU_MODE },
    workerHttpBasePort: cfg.WORKER_HTTP_BASE_PORT,
    ...autoscale(),
    restart: {
      baseDelayMs: cfg.RESTART_BACKOFF_BASE_MS,
      maxDelayMs: cfg.RESTART_BACKOFF_CAP_MS,
      crashLoopExits: cfg.CRASH_LOOP_EXITS,
      crashLoopWindowMs: cfg.CRASH_LOOP_WINDOW_MS,
    },
    onCrashLoop: () => void stop(1, 'crash loop'),
    stopTimeoutMs: cfg.SHUTDOWN_TIMEOUT_MS + 5000,
    signal: abort.signal,
  };
  // Check every port before starting anything, so a taken port costs nothing to fix.
  await assertPortsFree(stackPorts({ ...opts, mongoUri: '' }));
  // MONGO_URI: that server as given, for every process. Else the embedded mongod with access
  // control: migrations and the first admin run as the migrator user, the API as the api user,
  // the workers as the worker user.
  let uris = { migrator: cfg.MONGO_URI ?? '', api: cfg.MONGO_URI ?? '', worker: cfg.MONGO_URI ?? '' };
  if (!cfg.MONGO_URI) {
    const files = ensureLocalAuth(join(DATA, 'mongo-auth'));
    const auth = { files, dbName: cfg.MONGO_DB };
    mongodStarting = launchEmbeddedMongo({ dataDir: DATA, port: cfg.MONGO_PORT, replicas: cfg.MONGO_REPLICAS, log: say, auth });
    const m = await mongodStarting;
    uris = { migrator: m.uriFor('migrator'), api: m.uriFor('api'), worker: m.uriFor('worker') };
  }
  const admin = await firstAdmin(uris.migrator);
  if (stopping) throw new Error('interrupted');
  starting = startStack({ ...opts, mongoUri: uris.api, workerMongoUri: uris.worker });
  const { url } = await starting;
  say(
    `ready: ${url}  (through nginx to ${apiPorts.map((p) => `127.0.0.1:${p}`).join(', ')}; logs in ${join(DATA, 'logs')}, nginx access log in ${join(DATA, 'nginx', 'access.log')})`,
  );
  if (admin) say(admin);
  say(
    `log in: curl -c jar -H 'content-type: application/json' -d '{"email":"admin@creditdesk.local","password":"…"}' ${url}/api/auth/login`,
  );
  say(`        then: curl -b jar ${url}/api/applications   (send the returned csrfToken as X-CSRF-Token on writes)`);
  say('more users: npm run create-admin -- --email … --password … --role admin|reviewer|viewer');
  say('children that exit are restarted (see the logs); Ctrl-C stops everything.');
} catch (e) {
  if (!stopping) {
    say(`start failed: ${(e as Error).message}`);
    await stop(1, 'start failed');
  }
}
