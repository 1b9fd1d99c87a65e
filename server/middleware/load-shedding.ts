// Load shedding (issue 12, ADR 0028): an overloaded instance answers at once with a 503 problem
// and Retry-After instead of queueing requests until they time out. Two signals:
//  - event-loop lag: a timer every 100 ms measures how late it fires; the lag is smoothed (EWMA),
//    and the instance counts as overloaded once the smoothed lag stayed at or above
//    LOAD_SHED_LAG_MS for LOAD_SHED_MIN_OVERLOAD_MS (a single GC pause or slow tick never sheds).
//    It stops shedding when the smoothed lag falls below half the threshold (hysteresis). While
//    lagging it still lets requests in up to LOAD_SHED_MIN_IN_FLIGHT in flight: a process starved
//    by its neighbours (tests on a busy box) with a handful of requests is not overloaded by them,
//    and an overloaded one keeps serving at that concurrency instead of shedding everything.
//  - queue time: nginx stamps each proxied request with `X-Request-Start: t=<epoch seconds>`; a
//    request that already waited LOAD_SHED_QUEUE_MS before this instance read it is shed on its
//    own (its client is likely about to give up; serving it only delays the ones behind it).
// Never shed: /health and /ready (nginx and supervisors probe them), /metrics (internal scrapes),
// sign-in and sign-out (logins are bounded by their own verification semaphore below, so admins
// can still sign in during overload), vendor webhooks (machine callbacks with a retry budget that
// finish work already in progress), and the operators' control plane: the ops console (/ops/) and
// /api/admin/* (its streams, intake pause, breakers: what an operator uses during the overload;
// a browser's EventSource gives up for good on a 503). Open SSE streams are never cut; opening a
// new status stream (partners, application pages) is shed: its client reconnects later.
// The middleware runs first, before the request logger and body parsing: a shed costs a few
// microseconds, writes nothing, logs nothing per request (a summary at most once a second).
import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ServerConfig } from '../../lib/config.js';
import { AppError } from '../../lib/errors.js';
import { type Release, Semaphore } from '../../lib/limits/semaphore.js';
import type { Logger } from '../../lib/logger.js';

export type ShedReason = 'event_loop_lag' | 'queue_time' | 'login_busy';
const REASONS: readonly ShedReason[] = ['event_loop_lag', 'queue_time', 'login_busy'];

/** How often the lag timer fires, and the weight of each new sample in the smoothed lag. */
const SAMPLE_MS = 100;
const ALPHA = 0.3;
/** Log lines about shedding: at most one per this interval. */
const LOG_EVERY_MS = 1000;
/** An X-Request-Start further in the past than this is a wrong clock or a forged header: ignored. */
const QUEUE_TIME_SANE_MS = 5 * 60_000;
const VALID_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Paths never shed (lower case, without a trailing slash: Express routes /HEALTH/ to /health too). */
const EXEMPT = new Set(['/health', '/ready', '/metrics', '/api/auth/login', '/api/auth/logout']);
const EXEMPT_PREFIXES = ['/api/webhooks/', '/api/admin/', '/ops/'];
/** Status streams (Server-Sent Events): open for hours, so not counted in flight. */
const STREAM = /\/events\/?$/i;

type Cfg = Pick<
  ServerConfig,
  | 'LOAD_SHED_ENABLED'
  | 'LOAD_SHED_LAG_MS'
  | 'LOAD_SHED_MIN_OVERLOAD_MS'
  | 'LOAD_SHED_MIN_IN_FLIGHT'
  | 'LOAD_SHED_QUEUE_MS'
  | 'LOAD_SHED_RETRY_AFTER_S'
  | 'LOGIN_MAX_CONCURRENT_VERIFICATIONS'
  | 'LOGIN_VERIFY_QUEUE_MAX'
  | 'LOGIN_VERIFY_WAIT_MS'
>;

export interface LoadShedding {
  /** The shedder: mount it first. */
  middleware: RequestHandler;
  /**
   * Runs `fn` (a password verification) in one of the instance's verification slots, or throws
   * 503 + Retry-After. `req`'s queue time (X-Request-Start) counts against LOGIN_VERIFY_WAIT_MS: a
   * sign-in that already waited in front of the instance waits only for the rest of it for a slot,
   * so its client gets an answer, not a time-out.
   */
  verify<T>(req: Request, fn: () => Promise<T>): Promise<T>;
  /** Whether the lag signal says overloaded, the smoothed lag (ms), requests in flight (status streams not counted). */
  state(): { overloaded: boolean; lagMs: number; inFlight: number };
}

function isExempt(path: string): boolean {
  const p = (path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path).toLowerCase();
  return EXEMPT.has(p) || EXEMPT_PREFIXES.some((x) => p.startsWith(x) || p === x.slice(0, -1));
}

/**
 * Milliseconds since nginx stamped the request (`X-Request-Start: t=<seconds.millis>` from
 * nginx's $msec; also `t=<ms>` or `t=<µs>`), or undefined without a usable stamp.
 */
export function queueTimeMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  if (typeof header !== 'string') return undefined;
  const m = /^(?:t=)?(\d{1,17}(?:\.\d{1,6})?)$/.exec(header.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const ms = n < 1e11 ? n * 1000 : n < 1e14 ? n : n / 1000;
  const waited = now - ms;
  return waited > QUEUE_TIME_SANE_MS ? undefined : Math.max(0, waited);
}

/** The 503 problem of a shed request, written straight to the socket (no logger, no body parsing). */
function answerShed(req: Request, res: Response, reason: ShedReason, retryAfterS: number): void {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && VALID_ID.test(given) ? given : randomUUID();
  const body = JSON.stringify({
    type: 'https://creditdesk.dev/problems/overloaded',
    title: 'Service Unavailable',
    status: 503,
    detail: 'the service is overloaded; retry after Retry-After seconds',
    instance: req.originalUrl,
    requestId: id,
    reason,
    retryAfterSeconds: retryAfterS,
  });
  res.writeHead(503, {
    'Content-Type': 'application/problem+json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Retry-After': String(retryAfterS),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'X-Request-Id': id,
  });
  res.end(body);
}

/** The lag signal: smoothed timer lateness with a minimum overload duration and hysteresis. */
class LagDetector {
  lagMs = 0;
  overloaded = false;
  private overSince: number | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly thresholdMs: number,
    private readonly minOverloadMs: number,
    private readonly onSample: () => void,
  ) {}

  start(): void {
    const expected = performance.now() + SAMPLE_MS;
    this.timer = setTimeout(() => {
      const now = performance.now();
      this.sample(Math.max(0, now - expected), now);
      this.start();
    }, SAMPLE_MS);
    this.timer.unref(); // never keeps the process alive
  }

  private sample(lateMs: number, now: number): void {
    this.lagMs += ALPHA * (lateMs - this.lagMs);
    if (this.lagMs >= this.thresholdMs) {
      this.overSince ??= now;
      if (now - this.overSince >= this.minOverloadMs) this.overloaded = true;
    } else {
      this.overSince = undefined;
      if (this.lagMs < this.thresholdMs / 2) this.overloaded = false;
    }
    this.onSample();
  }
}

export function loadShedding(cfg: Cfg, log: Logger, registry: Registry): LoadShedding {
  const shed = new Counter({
    name: 'http_requests_shed_total',
    help: 'requests answered 503 + Retry-After because the instance was overloaded, by reason: event_loop_lag, queue_time, login_busy',
    labelNames: ['reason'],
    registers: [registry],
  });
  for (const reason of REASONS) shed.inc({ reason }, 0);

  // The summary line: shedding started / still on / stopped, with what was shed since the last line.
  const pending: Record<ShedReason, number> = { event_loop_lag: 0, queue_time: 0, login_busy: 0 };
  let lastLogAt = 0;
  let loggedOverloaded = false;
  const count = (reason: ShedReason) => {
    shed.inc({ reason });
    pending[reason]++;
  };
  const report = () => {
    const now = Date.now();
    if (now - lastLogAt < LOG_EVERY_MS) return;
    const overloaded = detector.overloaded;
    const total = REASONS.reduce((n, r) => n + pending[r], 0);
    if (total === 0 && overloaded === loggedOverloaded) return;
    const fields = { lagMs: Math.round(detector.lagMs), shed: { ...pending } };
    if (overloaded && !loggedOverloaded)
      log.warn(
        fields,
        'load shedding started: event-loop lag over LOAD_SHED_LAG_MS (requests beyond LOAD_SHED_MIN_IN_FLIGHT in flight are shed)',
      );
    else if (!overloaded && loggedOverloaded) log.info(fields, 'load shedding stopped');
    else log.warn(fields, 'shedding load (503 + Retry-After)');
    loggedOverloaded = overloaded;
    lastLogAt = now;
    for (const r of REASONS) pending[r] = 0;
  };
  const detector = new LagDetector(cfg.LOAD_SHED_LAG_MS, cfg.LOAD_SHED_MIN_OVERLOAD_MS, report);
  if (cfg.LOAD_SHED_ENABLED) detector.start();

  new Gauge({
    name: 'load_shedding_active',
    help: '1 while the event-loop lag is over LOAD_SHED_LAG_MS: requests beyond LOAD_SHED_MIN_IN_FLIGHT in flight are shed',
    registers: [registry],
    collect() {
      this.set(detector.overloaded ? 1 : 0);
    },
  });
  new Gauge({
    name: 'event_loop_lag_smoothed_seconds',
    help: 'the smoothed event-loop lag the load shedder compares with LOAD_SHED_LAG_MS',
    registers: [registry],
    collect() {
      this.set(detector.lagMs / 1000);
    },
  });

  const retryAfter = cfg.LOAD_SHED_RETRY_AFTER_S;
  // Requests let in and not answered yet; status streams (…/events) stay open for hours: not counted.
  let inFlight = 0;
  const middleware: RequestHandler = (req, res, next) => {
    if (!cfg.LOAD_SHED_ENABLED || isExempt(req.path)) return next();
    const waited = queueTimeMs(req.headers['x-request-start']);
    const lagging = detector.overloaded && inFlight >= cfg.LOAD_SHED_MIN_IN_FLIGHT;
    const reason: ShedReason | undefined =
      waited !== undefined && waited >= cfg.LOAD_SHED_QUEUE_MS ? 'queue_time' : lagging ? 'event_loop_lag' : undefined;
    if (reason) {
      count(reason);
      return answerShed(req, res, reason, retryAfter);
    }
    if (!STREAM.test(req.path)) {
      inFlight++;
      res.once('close', () => inFlight--); // 'close' follows 'finish', and comes alone when the client went away
    }
    next();
  };

  const slots = new Semaphore({
    max: cfg.LOGIN_MAX_CONCURRENT_VERIFICATIONS,
    queueMax: cfg.LOGIN_VERIFY_QUEUE_MAX,
    waitMs: cfg.LOGIN_VERIFY_WAIT_MS,
  });
  const verify = async <T>(req: Request, fn: () => Promise<T>): Promise<T> => {
    const waited = queueTimeMs(req.headers['x-request-start']) ?? 0;
    const release: Release | undefined = await slots.acquire(cfg.LOGIN_VERIFY_WAIT_MS - waited);
    if (!release) {
      count('login_busy');
      throw new AppError(503, 'login_busy', 'too many sign-ins are being checked on this instance; retry shortly', {
        retryAfterSeconds: 1,
      });
    }
    try {
      return await fn();
    } finally {
      release();
    }
  };

  return { middleware, verify, state: () => ({ overloaded: detector.overloaded, lagMs: detector.lagMs, inFlight }) };
}
