// Operators and the outside vendors (admin role; CSRF on the POST as on every /api route):
//  - GET  /api/admin/vendors: each vendor's shared circuit breaker (state, generation, since when,
//    last transitions, the window's call/failure counts, its settings) and its rate/retry settings;
//  - POST /api/admin/vendors/:vendor/breaker {"state": "open" | "closed"}: forces the shared breaker
//    (forced open stays open until forced closed; closed starts a fresh window), audited. Every
//    worker obeys within its breaker cache (BUREAU_/PAYMENT_BREAKER_CACHE_MS).
// The handles are built by the same builders the workers use (bureauVendor, paymentVendor) from the
// same settings, so the API's view of a breaker (window, cool-down) is the workers'. This process
// never calls a vendor through them: they only read and force the `circuit_breakers` documents.
import { type Request, Router } from 'express';
import { z } from 'zod';
import { recordAction } from '../../lib/domain/audit.js';
import { PAYMENT_VENDOR, paymentVendor } from '../../lib/domain/pipeline/payment-gateway.js';
import { notFound } from '../../lib/errors.js';
import type { BreakerView } from '../../lib/limits/circuit-breaker.js';
import { BUREAU_VENDOR, bureauVendor } from '../../lib/vendors/bureau-vendor.js';
import type { VendorClient } from '../../lib/vendors/call-vendor.js';
import type { ApiContext } from '../context.js';
import { actor } from '../middleware/auth.js';
import { routes } from '../openapi/operation.js';

const date = z.iso.datetime({ offset: true });
const breakerState = z.enum(['closed', 'open', 'half_open']);
const int = z.number().int().min(0);

const transitionView = z.object({
  from: breakerState,
  to: breakerState,
  generation: z.number().int().min(1),
  at: date,
  reason: z.string().meta({ description: 'failure_ratio, cool_down_over, probe_succeeded, probe_failed, forced_open, forced_close' }),
  by: z.string().optional().meta({ description: 'the process (INSTANCE_ID) or, when forced, the admin' }),
});
const breakerView = z.object({
  state: breakerState,
  generation: z.number().int().min(1).meta({ description: 'bumped by every transition (compare-and-set)' }),
  forced: z.boolean().meta({ description: 'forced open: stays open until forced closed (no half-open probe)' }),
  openSince: date.nullable(),
  halfOpenSince: date.nullable(),
  openUntil: date.nullable().meta({ description: 'open: a half-open probe may start after this (null while forced open)' }),
  changedAt: date,
  probeOwner: z.string().nullable().meta({ description: 'half-open: the process holding the probe lease' }),
  calls: int.meta({ description: 'outcomes recorded in the current window (windowBuckets × bucketMs)' }),
  failures: int,
  failureRatio: z.number().min(0).max(1),
  counts: z.object({ closed: int, open: int, half_open: int }).meta({ description: 'transitions so far, per target state' }),
  transitions: z.array(transitionView).meta({ description: 'the last 20 transitions, oldest first' }),
  settings: z.object({
    windowBuckets: z.number().int().min(1),
    bucketMs: z.number().int().min(1),
    minCalls: z.number().int().min(1),
    failureRatio: z.number(),
    coolDownMs: int,
    cacheMs: int.meta({ description: 'each process re-reads the state at most this often: a forced state is obeyed within it' }),
  }),
});
const vendorView = z.object({
  vendor: z.string(),
  breaker: breakerView,
  limits: z.object({
    ratePerSecond: z.number().meta({ description: "the lender's rate with the vendor, shared by every worker" }),
    timeoutMs: int,
    maxAttempts: z.number().int().min(1),
    backoff: z.object({ baseMs: int, capMs: int }),
    maxInlineWaitMs: int,
    retryBudget: z.object({ ratio: z.number(), minRetries: int }),
  }),
});
const vendorParams = z.strictObject({ vendor: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'must be a vendor name like credit-bureau') });
const forceBody = z.strictObject({ state: z.enum(['open', 'closed']) });

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function toView(v: VendorClient, b: BreakerView): z.input<typeof vendorView> {
  const o = v.breaker.opts;
  return {
    vendor: v.opts.name,
    breaker: {
      state: b.state,
      generation: b.generation,
      forced: b.forced,
      openSince: b.state === 'open' ? b.changedAt.toISOString() : null,
      halfOpenSince: b.state === 'half_open' ? b.changedAt.toISOString() : null,
      openUntil: iso(b.openUntil),
      changedAt: b.changedAt.toISOString(),
      probeOwner: b.probeOwner,
      calls: b.calls,
      failures: b.failures,
      failureRatio: b.failureRatio,
      counts: b.counts,
      transitions: b.transitions.map((t) => ({ ...t, at: t.at.toISOString() })),
      settings: {
        windowBuckets: o.windowBuckets,
        bucketMs: o.bucketMs,
        minCalls: o.minCalls,
        failureRatio: o.failureRatio,
        coolDownMs: o.coolDownMs,
        cacheMs: o.cacheMs,
      },
    },
    limits: {
      ratePerSecond: v.opts.ratePerSecond,
      timeoutMs: v.opts.timeoutMs,
      maxAttempts: v.opts.maxAttempts,
      backoff: v.opts.backoff,
      maxInlineWaitMs: v.opts.maxInlineWaitMs,
      retryBudget: v.opts.retryBudget,
    },
  };
}

export function vendorRoutes(d: ApiContext): Router {
  const onError = (err: unknown) => d.log.warn({ err }, 'vendor breaker write failed');
  const vendors = new Map<string, VendorClient>([
    [BUREAU_VENDOR, bureauVendor(d.db, d.cfg, d.cfg.INSTANCE_ID, onError)],
    [PAYMENT_VENDOR, paymentVendor(d.db, d.cfg, d.cfg.INSTANCE_ID, onError)],
  ]);
  const vendorOr404 = (name: string): VendorClient => {
    const v = vendors.get(name);
    if (!v) throw notFound(`no vendor "${name}" (known: ${[...vendors.keys()].join(', ')})`);
    return v;
  };
  const meta = (req: Request) => ({ actor: actor(req), requestId: String(req.id) });

  const r = Router();
  const t = routes(r);
  const common = { tags: ['operations'], security: 'session', role: 'admin' } as const;

  t.get(
    '/',
    {
      ...common,
      summary: "Each vendor's shared circuit breaker and its rate/retry settings",
      description: 'The breaker is read fresh from MongoDB (the document every process shares; created closed if no process used it yet).',
      responses: { 200: { description: 'the vendors, by name', schema: z.object({ vendors: z.array(vendorView) }) } },
    },
    async (_i, _req, res) => {
      const list = await Promise.all([...vendors.values()].map(async (v) => toView(v, await v.breaker.state())));
      res.json({ vendors: list });
    },
  );

  t.post(
    '/:vendor/breaker',
    {
      ...common,
      summary: "Force a vendor's shared breaker open (until forced closed) or closed; audited",
      description:
        'Every worker obeys within its breaker cache (settings.cacheMs). Forcing the state it already has changes nothing but is audited.',
      params: vendorParams,
      body: forceBody,
      responses: {
        200: { description: 'the vendor after the change', schema: vendorView },
        404: { description: 'no such vendor' },
      },
    },
    async ({ params, body }, req, res) => {
      const v = vendorOr404(params.vendor);
      const who = meta(req);
      const before = await v.breaker.state();
      const after = body.state === 'open' ? await v.breaker.forceOpen(who.actor.email) : await v.breaker.forceClose(who.actor.email);
      await recordAction(d.c, {
        entity: 'vendor',
        entityId: params.vendor,
        action: body.state === 'open' ? 'vendor.breaker_forced_open' : 'vendor.breaker_forced_closed',
        ...who,
        details: { from: before.state, to: after.state, generation: after.generation, changed: after.generation !== before.generation },
      });
      res.json(toView(v, after));
    },
  );
  return r;
}
