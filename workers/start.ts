// Starts a worker process's work: the process context, one queue worker per role, and the
// optional /health + /metrics listener. workers/main.ts calls it; tests call it in-process.
import { execFile } from 'node:child_process';
import type { Server } from 'node:http';
import { promisify } from 'node:util';
import type { WorkerConfig } from '../lib/config.js';
import { openContext } from '../lib/context.js';
import { httpBureau } from '../lib/domain/pipeline/bureau-client.js';
import { httpPaymentGateway, paymentVendor } from '../lib/domain/pipeline/payment-gateway.js';
import { createLogger, type Logger } from '../lib/logger.js';
import { startWorker, type WorkerHandle } from '../lib/queue/index.js';
import { bureauVendor } from '../lib/vendors/bureau-vendor.js';
import type { WorkerContext } from './context.js';
import { cachedStuckCounts } from '../lib/domain/pipeline/reconcile-metrics.js';
import { QUEUE_STATS_CACHE_MS, startHealthServer, type HealthState } from './http.js';
import { type ReconcilerDuty, startReconciler } from './jobs/reconcile.job.js';
import { concurrencyFor, jobsFor, runsReconciler } from './roles.js';

export interface RunningWorkers {
  ctx: WorkerContext;
  /** One queue worker per role. */
  handles: ReadonlyMap<string, WorkerHandle>;
  /** The /health + /metrics URL when WORKER_HTTP_PORT is set. */
  url?: string;
  /**
   * Drains (idempotent): no new claims, in-flight jobs may finish until SHUTDOWN_TIMEOUT_MS, the
   * rest (claim batches still in flight included) are released; then the listener and MongoDB close.
   */
  stop(): Promise<void>;
}

async function assertTesseract(cfg: WorkerConfig): Promise<void> {
  await promisify(execFile)(cfg.TESSERACT_BIN, ['--version']).catch(() => {
    throw new Error(`the ocr role needs tesseract at TESSERACT_BIN=${cfg.TESSERACT_BIN} (scripts/install-system-deps.sh installs it)`);
  });
}

export async function startWorkers(
  cfg: WorkerConfig,
  log: Logger = createLogger({ level: cfg.LOG_LEVEL, name: 'worker', instance: cfg.INSTANCE_ID }),
): Promise<RunningWorkers> {
  if (cfg.WORKER_ROLES.includes('ocr')) await assertTesseract(cfg);
  const base = await openContext(cfg, log, `creditdesk-worker-${cfg.INSTANCE_ID}`);
  // The gateway through its VendorClient: shared breaker and limiter, timeouts, retries (payment-gateway.ts).
  const vendor = cfg.PAYMENT_GATEWAY_URL
    ? paymentVendor(base.db, cfg, cfg.INSTANCE_ID, (err) => log.warn({ err }, 'payment gateway breaker write failed'))
    : undefined;
  const ctx: WorkerContext = { ...base, gateway: vendor ? httpPaymentGateway(cfg.PAYMENT_GATEWAY_URL, vendor) : undefined };
  if (cfg.WORKER_ROLES.includes('approval')) {
    if (cfg.BUREAU_URL) {
      const client = bureauVendor(ctx.db, cfg, cfg.INSTANCE_ID, (err) => log.warn({ err }, 'circuit breaker write failed'));
      ctx.bureau = { client, requester: httpBureau(client, cfg.BUREAU_URL, cfg.BUREAU_MODE, cfg.INSTANCE_ID) };
    } else log.warn('BUREAU_URL is not set: approval decides on the declared figures and documents only (no credit bureau)');
  }
  const handles = new Map<string, WorkerHandle>();
  for (const role of cfg.WORKER_ROLES) {
    handles.set(
      role,
      startWorker({
        db: ctx.db,
        jobs: jobsFor(role, ctx),
        concurrency: concurrencyFor(role, cfg),
        owner: `${cfg.INSTANCE_ID}/${role}`,
        leaseMs: cfg.WORKER_LEASE_MS,
        pollMs: cfg.WORKER_POLL_MS,
        retentionMs: cfg.WORKER_RETENTION_DAYS * 86_400_000,
        backoff: { baseMs: cfg.WORKER_BACKOFF_BASE_MS, factor: cfg.WORKER_BACKOFF_FACTOR, capMs: cfg.WORKER_BACKOFF_CAP_MS, jitter: 0.2 },
        log: log.child({ role }),
      }),
    );
  }
  const reconciler: ReconcilerDuty | undefined = runsReconciler(cfg) ? startReconciler(ctx, log.child({ duty: 'reconciler' })) : undefined;
  const state: HealthState = { instance: cfg.INSTANCE_ID, roles: cfg.WORKER_ROLES, draining: false };
  let http: Server | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      state.draining = true;
      log.info('draining: no new claims; in-flight jobs may finish until SHUTDOWN_TIMEOUT_MS, the rest are released');
      await reconciler?.stop().catch((e: unknown) => log.error({ err: e }, 'stopping the reconciler failed'));
      await Promise.all(
        [...handles].map(([role, h]) =>
          h.stop(cfg.SHUTDOWN_TIMEOUT_MS).catch((e: unknown) => log.error({ err: e, role }, 'stopping the queue worker failed')),
        ),
      );
      if (http)
        await new Promise<void>((res) => {
          http!.closeAllConnections();
          http!.close(() => res());
        });
      await vendor?.breaker.close().catch((e: unknown) => log.error({ err: e }, 'flushing the payment breaker failed'));
      // The breaker's outcomes summed in memory are written before MongoDB closes.
      await ctx.bureau?.client.breaker.close().catch((e: unknown) => log.error({ err: e }, 'flushing the bureau breaker failed'));
      await ctx.close().catch((e: unknown) => log.error({ err: e }, 'closing MongoDB failed'));
      log.info('stopped');
    })());
  if (cfg.WORKER_HTTP_PORT > 0) {
    const reconcile = {
      stuck: cachedStuckCounts(ctx.c, cfg.RECONCILE_THRESHOLDS, QUEUE_STATS_CACHE_MS),
      ...(reconciler ? { duty: () => reconciler.stats() } : {}),
    };
    http = await startHealthServer(cfg.WORKER_HTTP_HOST, cfg.WORKER_HTTP_PORT, state, handles, { ...ctx, reconcile }).catch(
      async (e: Error) => {
        await stop();
        throw new Error(`cannot listen on WORKER_HTTP_PORT=${cfg.WORKER_HTTP_PORT}: ${e.message}`);
      },
    );
  }
  log.info({ roles: cfg.WORKER_ROLES, http: cfg.WORKER_HTTP_PORT || 'off' }, `worker started: ${cfg.WORKER_ROLES.join(', ')}`);
  return { ctx, handles, stop, ...(http ? { url: `http://${cfg.WORKER_HTTP_HOST}:${cfg.WORKER_HTTP_PORT}` } : {}) };
}
