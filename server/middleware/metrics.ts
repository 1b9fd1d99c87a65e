import { BlockList, isIP } from 'node:net';
import type { Request, RequestHandler } from 'express';
import type { MongoClient } from 'mongodb';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { notFound } from '../../lib/errors.js';
import { registerLockMetrics } from '../../lib/locks/index.js';
import { instrumentPool } from '../../lib/metrics/pool.js';

/** The route label of requests no route matched, and of 401/403/404 answers (bounded label set). */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * The route label: the matched route's template (`/api/applications/:id`), never the URL, so the
 * label set is bounded by the route table. Requests no route took, and answers that say the
 * caller may not know the route exists (401, 403, 404), share one fixed label.
 */
export function routeLabel(req: Request, status: number): string {
  if (status === 401 || status === 403 || status === 404) return UNMATCHED_ROUTE;
  const path: unknown = req.route?.path;
  if (typeof path !== 'string') return UNMATCHED_ROUTE;
  return path === '/' && req.baseUrl ? req.baseUrl : `${req.baseUrl}${path}`;
}

/** The partner intake route (POST): its answers are counted by outcome. */
export const INTAKE_ROUTE = '/api/loan/request';

/**
 * The outcome of a POST /api/loan/request answer: accepted (202), replayed (202 with
 * Idempotent-Replayed: true), limited (429, the partner's rate), paused (503, intake paused or not
 * configured), rejected (any other 4xx: bad key, bad body, reused idempotency key), error (5xx).
 */
export function intakeOutcome(status: number, replayed: boolean): string {
  if (status === 202) return replayed ? 'replayed' : 'accepted';
  if (status === 429) return 'limited';
  if (status === 503) return 'paused';
  return status >= 500 ? 'error' : status >= 400 ? 'rejected' : 'other';
}

/** 200 → "2xx": the status class (5 values at most). */
export const statusClass = (status: number) => `${Math.floor(status / 100)}xx`;

/** The peer addresses (CIDR or single address, comma-separated) allowed to read internal endpoints. */
export function internalNetworks(spec: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of spec) {
    const [addr, bits] = entry.split('/');
    const type = isIP(addr ?? '') === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr!, type);
    else list.addSubnet(addr!, Number(bits), type);
  }
  return list;
}

/**
 * A request made straight to this instance from an internal network: the socket's peer (not a
 * forwarded header) is in `networks`, and no proxy forwarded it (nginx always sets
 * X-Forwarded-For, so nothing that came through the edge counts as internal).
 */
export function isInternal(req: Request, networks: BlockList): boolean {
  if (req.headers['x-forwarded-for'] !== undefined) return false;
  const peer = req.socket.remoteAddress ?? '';
  const v4 = peer.startsWith('::ffff:') ? peer.slice(7) : peer;
  const type = isIP(v4) === 6 ? 'ipv6' : 'ipv4';
  return isIP(v4) !== 0 && networks.check(v4, type);
}

/**
 * Prometheus metrics: process defaults plus a request-duration histogram by route template and
 * status class; with `mongo`, the driver's connection-pool gauges (lib/metrics/pool.ts); with
 * `sseConnections`, the open status streams by kind (sse_connections{stream}); with `sessionCache`,
 * the session cache's hits and misses (session_cache_reads_total{result}).
 */
export function createMetrics(
  networks: BlockList,
  gauges: {
    uploadsInFlight: () => number;
    mongo?: MongoClient;
    sseConnections?: () => Record<string, number>;
    sessionCache?: () => { hit: number; miss: number };
  },
) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  if (gauges.mongo) instrumentPool(gauges.mongo, registry);
  new Gauge({
    name: 'http_uploads_in_flight',
    help: 'document uploads holding an upload slot on this instance',
    registers: [registry],
    collect() {
      this.set(gauges.uploadsInFlight());
    },
  });
  const sse = gauges.sseConnections;
  if (sse) {
    new Gauge({
      name: 'sse_connections',
      help: 'open Server-Sent Events status streams on this instance, by stream kind',
      registers: [registry],
      labelNames: ['stream'],
      collect() {
        this.reset();
        for (const stream of ['application', 'partner', 'admin']) this.set({ stream }, 0);
        for (const [stream, n] of Object.entries(sse())) this.set({ stream }, n);
      },
    });
  }
  const sessions = gauges.sessionCache;
  if (sessions) {
    new Counter({
      name: 'session_cache_reads_total',
      help: 'session reads of authenticated requests: answered from the instance cache (hit) or from MongoDB (miss)',
      registers: [registry],
      labelNames: ['result'],
      collect() {
        this.reset();
        for (const [result, n] of Object.entries(sessions())) this.inc({ result }, n);
      },
    });
  }
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route template and status class',
    registers: [registry],
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  });
  const intake = new Counter({
    name: 'intake_requests_total',
    help: 'partner loan requests (POST /api/loan/request) by outcome: accepted, replayed, limited, paused, rejected, error',
    labelNames: ['outcome'],
    registers: [registry],
  });
  for (const outcome of ['accepted', 'replayed', 'limited', 'paused', 'rejected', 'error']) intake.inc({ outcome }, 0);
  registerLockMetrics(registry);
  const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
  const observe: RequestHandler = (req, res, next) => {
    const end = duration.startTimer();
    res.on('finish', () => {
      const status = res.statusCode;
      end({ method: METHODS.has(req.method) ? req.method : 'OTHER', route: routeLabel(req, status), status: statusClass(status) });
      // By path, not route template: a 401/429/503 answered before the route matched counts too.
      if (req.method === 'POST' && req.originalUrl.split('?', 1)[0] === INTAKE_ROUTE)
        intake.inc({ outcome: intakeOutcome(status, res.getHeader('Idempotent-Replayed') === 'true') });
    });
    next();
  };
  /** Only straight from an internal network; anyone else gets the ordinary 404 (nothing to see here). */
  const expose: RequestHandler = async (req, res) => {
    if (!isInternal(req, networks)) throw notFound(`no route for ${req.method} ${req.path}`);
    res.type(registry.contentType).send(await registry.metrics());
  };
  return { registry, observe, expose };
}
