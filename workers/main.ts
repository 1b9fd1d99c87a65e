// Worker process entry: config → Mongo → one queue worker per role → drain on SIGTERM.
//   tsx workers/main.ts [ocr,approval,disbursement]   (the argument overrides WORKER_ROLES)
// Run several processes per role to scale out; each claims jobs atomically, so they never share one.
import { execFile } from 'node:child_process';
import type { Server } from 'node:http';
import { promisify } from 'node:util';
import { loadConfigOrExit, workerSchema } from '../lib/config.js';
import { collections } from '../lib/db/collections.js';
import { connectMongo } from '../lib/db/mongo.js';
import { pipelineHooks } from '../lib/domain/pipeline/hooks.js';
import { httpPaymentGateway } from '../lib/domain/pipeline/payment-gateway.js';
import { createLogger } from '../lib/logger.js';
import { startWorker, type WorkerHandle } from '../lib/queue/index.js';
import { startHealthServer, type HealthState } from './http.js';
import type { JobEnv } from './jobs/env.js';
import { concurrencyFor, jobsFor } from './roles.js';

if (process.argv[2]) process.env.WORKER_ROLES = process.argv[2];
const cfg = loadConfigOrExit(workerSchema, 'worker');
const log = createLogger({ level: cfg.LOG_LEVEL, name: 'worker', instance: cfg.INSTANCE_ID });

if (cfg.WORKER_ROLES.includes('ocr')) {
  await promisify(execFile)(cfg.TESSERACT_BIN, ['--version']).catch((e: Error) => {
    log.fatal({ err: e }, `the ocr role needs tesseract at TESSERACT_BIN=${cfg.TESSERACT_BIN} (scripts/install-system-deps.sh installs it)`);
    process.exit(1);
  });
}
const mongo = await connectMongo(cfg.MONGO_URI, cfg.MONGO_DB, `creditdesk-worker-${cfg.INSTANCE_ID}`).catch((e: Error) => {
  log.fatal({ err: e }, `cannot reach MongoDB at MONGO_URI: ${e.message}`);
  process.exit(1);
});
const c = collections(mongo.db);
const env: JobEnv = {
  deps: { client: mongo.client, c, hooks: pipelineHooks(mongo.db) }, db: mongo.db, cfg,
  gateway: cfg.PAYMENT_GATEWAY_URL ? httpPaymentGateway(cfg.PAYMENT_GATEWAY_URL, cfg.PAYMENT_TIMEOUT_MS) : undefined,
};

const handles = new Map<string, WorkerHandle>();
for (const role of cfg.WORKER_ROLES) {
  handles.set(role, startWorker({
    db: mongo.db, jobs: jobsFor(role, env), concurrency: concurrencyFor(role, cfg), owner: `${cfg.INSTANCE_ID}/${role}`,
    leaseMs: cfg.WORKER_LEASE_MS, pollMs: cfg.WORKER_POLL_MS, retentionMs: cfg.WORKER_RETENTION_DAYS * 86_400_000,
    backoff: { baseMs: cfg.WORKER_BACKOFF_BASE_MS, factor: cfg.WORKER_BACKOFF_FACTOR, capMs: cfg.WORKER_BACKOFF_CAP_MS, jitter: 0.2 },
    log: log.child({ role }),
  }));
}
const state: HealthState = { instance: cfg.INSTANCE_ID, roles: cfg.WORKER_ROLES, draining: false };
let http: Server | undefined;
if (cfg.WORKER_HTTP_PORT > 0) {
  http = await startHealthServer(cfg.WORKER_HTTP_HOST, cfg.WORKER_HTTP_PORT, state, handles).catch((e: Error) => {
    log.fatal({ err: e }, `cannot listen on WORKER_HTTP_PORT=${cfg.WORKER_HTTP_PORT}: ${e.message}`);
    process.exit(1);
  });
}
log.info({ roles: cfg.WORKER_ROLES, http: cfg.WORKER_HTTP_PORT || 'off' }, `worker started: ${cfg.WORKER_ROLES.join(', ')}`);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  state.draining = true;
  log.info({ signal }, 'draining: no new claims; in-flight jobs may finish until SHUTDOWN_TIMEOUT_MS, the rest are released');
  await Promise.all([...handles].map(([role, h]) => h.stop(cfg.SHUTDOWN_TIMEOUT_MS)
    .catch((e: unknown) => log.error({ err: e, role }, 'stopping the queue worker failed'))));
  if (http) await new Promise<void>((res) => { http!.closeAllConnections(); http!.close(() => res()); });
  await mongo.close().catch((e: Error) => log.error({ err: e }, 'closing MongoDB failed'));
  log.info('stopped');
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
