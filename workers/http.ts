// Optional per-process HTTP endpoint (WORKER_HTTP_PORT > 0): /health for liveness and /metrics
// for Prometheus (in-flight and processed jobs per role, plus the process defaults; with the
// process's MongoDB: queue gauges per type from one cached aggregate, every role's backlog (the
// autoscaling signal) from another, and the driver's pool gauges;
// the process's queue counters, lock waits and fences, vendor calls/breaker/retry budget and
// outbound call latency).
import { createServer, type Server } from 'node:http';
import type { Db, MongoClient } from 'mongodb';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { instrumentPool } from '../lib/metrics/pool.js';
import type { WorkerHandle } from '../lib/queue/index.js';
import { registerLockMetrics } from '../lib/locks/index.js';
import { registerOutboundLatency, registerVendorMetrics } from '../lib/metrics/vendors.js';
import { type DutyStats, registerReconcileMetrics } from '../lib/domain/pipeline/reconcile-metrics.js';
import { groupBacklog } from '../lib/queue/backlog.js';
import { cachedFor, cachedQueueStats, registerBacklogGauges, registerQueueCounters, registerQueueGauges } from '../lib/queue/metrics.js';
import type { VendorClient } from '../lib/vendors/call-vendor.js';
import { ROLE_EVENT_TYPES } from './role-events.js';

/** How long one queue-stats aggregate serves the queue gauges (scrapes in between reuse it). */
export const QUEUE_STATS_CACHE_MS = 5000;

export interface HealthState {
  instance: string;
  roles: string[];
  draining: boolean;
}

/** The vendor clients a worker context may hold (workers/context.ts): their metrics go on /metrics. */
interface WorkerVendors {
  gateway?: { vendor?: VendorClient | undefined } | undefined;
  bureau?: { client: VendorClient } | undefined;
}
const vendorsOf = (w: WorkerVendors): VendorClient[] =>
  [w.gateway?.vendor, w.bureau?.client].filter((v): v is VendorClient => v !== undefined);

export function startHealthServer(
  host: string,
  port: number,
  state: HealthState,
  handles: ReadonlyMap<string, WorkerHandle>,
  mongo?: { client: MongoClient; db: Db } & WorkerVendors & {
      /** Stuck applications per status (every worker) and the reconciler duty's own figures (where it runs). */
      reconcile?: { stuck: () => Promise<Record<string, number>>; duty?: () => DutyStats };
    },
): Promise<Server> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  registerQueueCounters(registry);
  registerLockMetrics(registry);
  registerOutboundLatency(registry);
  if (mongo) registerVendorMetrics(registry, () => vendorsOf(mongo));
  if (mongo) {
    instrumentPool(mongo.client, registry);
    registerQueueGauges(registry, cachedQueueStats(mongo.db, QUEUE_STATS_CACHE_MS));
    // Every role's backlog (the autoscaling signal), whichever roles this process runs.
    registerBacklogGauges(
      registry,
      cachedFor(() => groupBacklog(mongo.db, ROLE_EVENT_TYPES), QUEUE_STATS_CACHE_MS),
    );
    if (mongo.reconcile) registerReconcileMetrics(registry, mongo.reconcile.stuck, mongo.reconcile.duty);
  }
  new Gauge({
    name: 'worker_jobs_in_flight',
    help: 'jobs being handled now',
    labelNames: ['role'],
    registers: [registry],
    collect() {
      for (const [role, h] of handles) this.set({ role }, h.inFlight());
    },
  });
  new Gauge({
    name: 'worker_jobs_processed',
    help: 'jobs settled by this process since it started',
    labelNames: ['role'],
    registers: [registry],
    collect() {
      for (const [role, h] of handles) this.set({ role }, h.processed());
    },
  });
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/health') {
      res.writeHead(state.draining ? 503 : 200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ status: state.draining ? 'draining' : 'ok', instance: state.instance, roles: state.roles }));
    }
    if (req.method === 'GET' && req.url === '/metrics') {
      return void registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(body);
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 404, title: 'Not Found' }));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
