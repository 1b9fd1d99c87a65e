// The operations console (/ops/): its static page (server/public/ops) and uPlot from node_modules,
// the Server-Sent Events it lives on, and its few read routes. Two streams, each shared by every
// console connected to this instance (a hundred open consoles cost the database what one costs):
//  - /api/admin/stream: a snapshot every 2 s (queues, pauses with who/when, intake, breakers);
//  - /api/admin/ops/series: the time series (lib/metrics/series-*.ts): the whole window on
//    connect (so a reconnect, to this or another instance, redraws everything), then the buckets
//    that changed, once a second.
// Both are read-only and open to every signed-in role (the charts are aggregates); the actions
// the console offers are the admin routes, which refuse other roles.
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import express, { type RequestHandler, Router, type Response } from 'express';
import { z } from 'zod';
import { applicationsByLoanId, applicationTimeline, opsSnapshot, type OpsSnapshot } from '../../lib/domain/ops-snapshot.js';
import { notFound } from '../../lib/errors.js';
import type { IntakeOutcome } from '../../lib/metrics/series-buckets.js';
import { readRecent, readWindow, type SeriesPoint } from '../../lib/metrics/series-reader.js';
import { SeriesWriter } from '../../lib/metrics/series-writer.js';
import type { ApiContext } from '../context.js';
import { routes } from '../openapi/operation.js';
import { trackingId } from '../openapi/schemas.js';

const OPS_STREAM_INTERVAL_MS = 2000;
const SERIES_INTERVAL_MS = 1000;
const uplotDist = resolve(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');

const SSE_HEADERS = {
  'Content-Type': 'text/event-stream',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'keep-alive',
  'X-Accel-Buffering': 'no',
} as const;
const frame = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/** A timer shared by an instance's SSE clients: runs while anyone listens, ends every client when the instance drains. */
class Fanout {
  readonly clients = new Set<Response>();
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly d: ApiContext,
    private readonly everyMs: number,
    private readonly tick: () => Promise<void>,
  ) {}

  add(res: Response, onClose: (cb: () => void) => void): void {
    this.clients.add(res);
    if (!this.timer) this.timer = setInterval(() => void this.run(), this.everyMs);
    onClose(() => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stop();
    });
  }

  send(text: string): void {
    for (const res of this.clients) res.write(text);
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  async run(): Promise<void> {
    if (this.d.lifecycle.draining) {
      // let the listener close; browsers reconnect (through nginx: to another instance)
      for (const res of this.clients) res.end();
      this.clients.clear();
      return this.stop();
    }
    await this.tick();
  }
}

/** What a finished POST /api/loan/request answered, as an intake outcome (undefined: not one we chart). */
function intakeOutcome(res: Response): IntakeOutcome | undefined {
  const s = res.statusCode;
  if (s === 202) return res.getHeader('Idempotent-Replayed') === 'true' ? 'replayed' : 'accepted';
  if (s === 429) return 'limited';
  if (s === 503) return 'paused';
  if (s >= 400 && s < 500) return 'rejected';
  return undefined;
}

const timelineSchema = z.object({
  id: z.string(),
  status: z.string(),
  loanId: z.string().nullable(),
  partnerId: z.string().nullable(),
  entries: z.array(
    z.object({
      at: z.iso.datetime({ offset: true }),
      kind: z.enum(['audit', 'event', 'attempt', 'error']),
      title: z.string(),
      detail: z.string(),
      by: z.string().nullable(),
    }),
  ),
});
const lookupSchema = z.object({ items: z.array(z.object({ id: z.string(), partnerId: z.string(), status: z.string() })) });

export function opsRoutes(d: ApiContext): { page: Router; stream: Router } {
  // --- the time series: this instance's counters, written once a second -----------------------
  // Unset: on, except in tests (their "nothing was written" snapshots); the console's tests turn it on.
  const seriesOn = d.cfg.CONSOLE_SERIES_ENABLED ?? d.cfg.NODE_ENV !== 'test';
  const writer = seriesOn ? new SeriesWriter(d.db, d.c, d.log, d.cfg.INSTANCE_ID, () => d.lifecycle.draining) : undefined;
  writer?.start();
  /** Counts API requests (latency) and partner intake outcomes; SSE streams are left out (they do not end). */
  const observe: RequestHandler = (req, res, next) => {
    // The path now: routers rewrite req.url while they route, and 'finish' may see the rewritten one.
    const path = req.path;
    if (!writer || !path.startsWith('/api/')) return next();
    const started = performance.now();
    res.on('finish', () => {
      if (String(res.getHeader('Content-Type') ?? '').startsWith('text/event-stream')) return;
      writer.request(performance.now() - started);
      if (req.method === 'POST' && path === '/api/loan/request') {
        const outcome = intakeOutcome(res);
        if (outcome) writer.intake(outcome);
      }
    });
    next();
  };

  // --- snapshot stream ------------------------------------------------------------------------
  let last: OpsSnapshot | undefined;
  const snapshots: Fanout = new Fanout(d, OPS_STREAM_INTERVAL_MS, async () => {
    try {
      last = await opsSnapshot(d);
      snapshots.send(frame('snapshot', last));
    } catch (err) {
      d.log.warn({ err }, 'ops snapshot failed');
      snapshots.send(': snapshot failed\n\n');
    }
  });

  // --- series stream: a cache of the window while consoles are connected, refreshed with the
  // recent buckets once a second. The first console after a quiet spell reads the whole window
  // again (the cache missed the buckets written while nobody watched).
  const seconds = new Map<number, SeriesPoint>();
  const minutes = new Map<number, SeriesPoint>();
  const replaceWindow = (w: { s: SeriesPoint[]; m: SeriesPoint[] }) => {
    seconds.clear();
    minutes.clear();
    for (const p of w.s) seconds.set(p.t, p);
    for (const p of w.m) minutes.set(p.t, p);
  };
  const prune = (now: number) => {
    for (const t of seconds.keys()) if (t < now - 15 * 60_000) seconds.delete(t);
    for (const t of minutes.keys()) if (t < now - 24 * 3_600_000) minutes.delete(t);
  };
  const series: Fanout = new Fanout(d, SERIES_INTERVAL_MS, async () => {
    try {
      const now = Date.now();
      const recent = await readRecent(d.db, now);
      for (const p of recent.s) seconds.set(p.t, p);
      for (const p of recent.m) minutes.set(p.t, p);
      prune(now);
      series.send(frame('points', { now, ...recent }));
    } catch (err) {
      d.log.warn({ err }, 'reading the console time series failed');
      series.send(': series read failed\n\n');
    }
  });
  const sorted = (m: Map<number, SeriesPoint>) => [...m.values()].sort((a, b) => a.t - b.t);

  const stream = Router();
  const t = routes(stream);
  const read = { tags: ['operations'], security: 'session', role: 'viewer' } as const;
  t.get(
    '/stream',
    {
      ...read,
      summary: 'The ops console’s snapshot stream (Server-Sent Events): queues, pauses, intake, breakers every 2 s',
      responses: {
        200: { description: 'event: snapshot frames', contentType: 'text/event-stream' },
        503: { description: 'the instance is draining' },
      },
    },
    (_i, req, res) => {
      if (d.lifecycle.draining) return void res.status(503).end();
      res.writeHead(200, SSE_HEADERS);
      res.write('retry: 3000\n\n');
      if (last) res.write(frame('snapshot', last));
      const first = snapshots.clients.size === 0;
      snapshots.add(res, (cb) => req.on('close', cb));
      if (first) void snapshots.run();
    },
  );

  t.get(
    '/ops/series',
    {
      ...read,
      summary:
        'The console’s time series (Server-Sent Events): `window` (15 min of seconds, 24 h of minutes) on connect, then `points` (the buckets that changed) every second',
      responses: {
        200: { description: 'event: window, then event: points frames', contentType: 'text/event-stream' },
        503: { description: 'the instance is draining' },
      },
    },
    async (_i, req, res) => {
      if (d.lifecycle.draining) return void res.status(503).end();
      // Before the headers: a failed read is an ordinary problem answer.
      if (series.clients.size === 0) replaceWindow(await readWindow(d.db, Date.now()));
      res.writeHead(200, SSE_HEADERS);
      res.write('retry: 3000\n\n');
      res.write(frame('window', { now: Date.now(), s: sorted(seconds), m: sorted(minutes) }));
      series.add(res, (cb) => req.on('close', cb));
    },
  );

  t.get(
    '/applications',
    {
      tags: ['operations'],
      security: 'session',
      role: 'admin',
      summary: 'Applications partners submitted with this loanId (the console’s search)',
      query: z.strictObject({
        loanId: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'must be a loan reference (letters, digits, . _ : -)'),
      }),
      responses: { 200: { description: 'the matches (at most 20)', schema: lookupSchema } },
    },
    async ({ query }, _req, res) => {
      res.json({ items: await applicationsByLoanId(d, query.loanId) });
    },
  );

  t.get(
    '/applications/:id/timeline',
    {
      tags: ['operations'],
      security: 'session',
      role: 'admin',
      summary: 'One application’s timeline: audit trail, pipeline events with each failed attempt, error-log entries',
      params: z.strictObject({ id: trackingId }),
      responses: {
        200: { description: 'the timeline, oldest first', schema: timelineSchema },
        404: { description: 'no such application' },
      },
    },
    async ({ params }, _req, res) => {
      const timeline = await applicationTimeline(d, params.id);
      if (!timeline) throw notFound(`no application ${params.id}`);
      res.json(timeline);
    },
  );

  const page = Router();
  page.use(observe);
  page.use('/ops/vendor', express.static(uplotDist, { index: false, maxAge: '1h' }));
  page.use('/ops', express.static(resolve(import.meta.dirname, '..', 'public', 'ops'), { index: 'index.html', maxAge: '5m' }));
  return { page, stream };
}
