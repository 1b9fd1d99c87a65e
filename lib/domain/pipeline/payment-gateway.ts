// Client for the payment gateway (scripts/simulators/payment-gateway.ts locally). Every payment
// request carries an idempotency key and the amount: asking twice for the same key never pays twice,
// a reused key with another amount is refused by the gateway (409/422: a permanent failure), and
// the amount the gateway says it paid must be the amount asked for.
//
// Every request goes through the vendor wrapper (lib/vendors/call-vendor.ts, vendor
// 'payment-gateway'): the shared circuit breaker, the shared rate limit, a per-attempt timeout and
// full-jitter retries within the retry budget, all with the SAME idempotency key. When the wrapper
// denies the call (breaker open, rate used up) pay() throws a RescheduleError: the queue puts the
// event back for that time without spending an attempt.
import type { Db } from 'mongodb';
import { z } from 'zod';
import type { PaymentConfig } from '../../config.js';
import { CircuitBreaker } from '../../limits/circuit-breaker.js';
import { LeasedLimiter } from '../../limits/leased-limiter.js';
import { PermanentError, RescheduleError } from '../../queue/index.js';
import { VendorClient, type VendorCallResult } from '../../vendors/call-vendor.js';

export const PAYMENT_VENDOR = 'payment-gateway';

const paid = z.object({ paymentId: z.string().min(1), amount: z.number(), currency: z.string() });
/** The gateway's record of a payment, as GET /payments/:key answers it. */
const record = paid.extend({ key: z.string(), reference: z.string() });
export type PaymentRecord = z.output<typeof record>;

export interface PaymentRequest {
  idempotencyKey: string;
  applicationId: string;
  amount: number;
  currency: string;
}
export interface PaymentGateway {
  pay(req: PaymentRequest, signal: AbortSignal): Promise<{ paymentId: string; amount: number; currency: string }>;
  /** The payment made under `idempotencyKey`, or null when the gateway has none (a fact the reconciler checks). */
  lookup(idempotencyKey: string, signal: AbortSignal): Promise<PaymentRecord | null>;
  /** The vendor wrapper (metrics, breaker state), when the gateway is called through one. */
  readonly vendor?: VendorClient;
  /**
   * Until when this process already knows the gateway's breaker is open (its cached view, no round
   * trip), or null: the worker reschedules before it takes the loan lock or writes anything.
   */
  unavailableUntil(): Date | null;
}

/** The gateway could not be asked (breaker open, rate used up, vendor errors): try again at `retryAt`. */
export class PaymentGatewayError extends Error {
  override name = 'PaymentGatewayError';
}

/** The gateway's VendorClient from PAYMENT_* (the same shape as the bureau's BUREAU_* settings). */
export function paymentVendor(db: Db, cfg: PaymentConfig, owner: string, onError?: (err: unknown) => void): VendorClient {
  const limiter = new LeasedLimiter(db, {
    leaseFraction: cfg.PAYMENT_RATE_LEASE_FRACTION,
    burstLeases: cfg.PAYMENT_RATE_BURST_LEASES,
    leaseTtlMs: cfg.PAYMENT_RATE_LEASE_TTL_MS,
  });
  const breaker = new CircuitBreaker(db, {
    vendor: PAYMENT_VENDOR,
    owner,
    windowBuckets: cfg.PAYMENT_BREAKER_WINDOW_BUCKETS,
    bucketMs: cfg.PAYMENT_BREAKER_BUCKET_MS,
    minCalls: cfg.PAYMENT_BREAKER_MIN_CALLS,
    failureRatio: cfg.PAYMENT_BREAKER_FAILURE_RATIO,
    coolDownMs: cfg.PAYMENT_BREAKER_COOL_DOWN_MS,
    probeLeaseMs: cfg.PAYMENT_BREAKER_PROBE_LEASE_MS,
    cacheMs: cfg.PAYMENT_BREAKER_CACHE_MS,
    flushMs: cfg.PAYMENT_BREAKER_FLUSH_MS,
    ...(onError ? { onError } : {}),
  });
  return new VendorClient(
    {
      name: PAYMENT_VENDOR,
      ratePerSecond: cfg.PAYMENT_RATE_PER_SECOND,
      timeoutMs: cfg.PAYMENT_TIMEOUT_MS,
      maxAttempts: cfg.PAYMENT_MAX_ATTEMPTS,
      backoff: { baseMs: cfg.PAYMENT_BACKOFF_BASE_MS, capMs: cfg.PAYMENT_BACKOFF_CAP_MS },
      maxInlineWaitMs: cfg.PAYMENT_MAX_INLINE_WAIT_MS,
      retryBudget: { ratio: cfg.PAYMENT_RETRY_BUDGET_RATIO, minRetries: cfg.PAYMENT_RETRY_BUDGET_MIN },
    },
    limiter,
    breaker,
  );
}

/**
 * A denied call: waiting for capacity (breaker open, rate used up, retry budget spent) reschedules
 * the event without spending an attempt; so do vendor errors once the breaker is open (a failed
 * half-open probe reopens it: an outage of any length never uses up an event's attempts). Vendor
 * errors while it is still closed are a failed attempt (the queue's backoff and attempt budget apply).
 */
function denied(r: Extract<VendorCallResult, { ok: false }>, vendor: VendorClient | undefined): Error {
  const what = `payment gateway unavailable (${r.reason}${r.status ? `, HTTP ${r.status}` : ''}${r.error ? `: ${r.error}` : ''})`;
  if (r.reason === 'vendor_error' && vendor?.breaker.cached()?.state !== 'open')
    return new PaymentGatewayError(`${what} after ${r.attempts} attempt(s)`);
  return new RescheduleError(r.retryAt, what);
}

type Call = VendorClient['call'];

/** One attempt with a timeout and no breaker, limiter or retry (for tests and one-off tools only). */
const direct =
  (timeoutMs: number): Call =>
  async (attempt, signal) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const response = await attempt({ signal: signal ? AbortSignal.any([timeout, signal]) : timeout, attempt: 1, probe: false });
    if (response.status >= 500 || response.status === 408) {
      await response.body?.cancel().catch(() => {});
      return { ok: false, reason: 'vendor_error', retryAt: new Date(), attempts: 1, status: response.status };
    }
    return { ok: true, response, attempts: 1 };
  };

/**
 * `via`: the gateway's VendorClient (the workers always pass one: paymentVendor), or a per-request
 * timeout in ms for a bare client without breaker, limiter or retries (tests, one-off tools).
 */
export function httpPaymentGateway(baseUrl: string, via: VendorClient | number): PaymentGateway {
  const vendor = typeof via === 'number' ? undefined : via;
  const call: Call = vendor ? (attempt, signal) => vendor.call(attempt, signal) : direct(via as number);
  return {
    ...(vendor ? { vendor } : {}),
    unavailableUntil() {
      const v = vendor?.breaker.cached();
      if (v?.state !== 'open') return null;
      // Forced open has no end: look again after a cool-down.
      const until = v.openUntil?.getTime() ?? Date.now() + vendor!.breaker.opts.coolDownMs;
      return until > Date.now() ? new Date(until) : null;
    },
    async pay(req, signal) {
      const body = JSON.stringify({ reference: req.applicationId, amount: req.amount, currency: req.currency });
      const r = await call(
        (a) =>
          fetch(new URL('/payments', baseUrl), {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'idempotency-key': req.idempotencyKey },
            body,
            signal: a.signal,
          }),
        signal,
      );
      if (!r.ok) throw denied(r, vendor);
      const answerBody: unknown = await r.response.json().catch(() => ({}));
      const answer = `payment gateway answered ${r.response.status}: ${JSON.stringify(answerBody).slice(0, 300)}`;
      // The key was used with other terms, or the request is malformed: retrying cannot help, an operator must look.
      if (r.response.status >= 400) throw new PermanentError(answer);
      const ok = paid.safeParse(answerBody);
      if (!ok.success) throw new PaymentGatewayError(answer);
      if (ok.data.amount !== req.amount || ok.data.currency !== req.currency) {
        throw new PermanentError(`payment gateway paid ${ok.data.amount} ${ok.data.currency} for ${req.amount} ${req.currency}: ${answer}`);
      }
      return ok.data;
    },
    async lookup(idempotencyKey, signal) {
      const r = await call((a) => fetch(new URL(`/payments/${encodeURIComponent(idempotencyKey)}`, baseUrl), { signal: a.signal }), signal);
      if (!r.ok) throw denied(r, vendor);
      const answerBody: unknown = await r.response.json().catch(() => ({}));
      if (r.response.status === 404) return null;
      const ok = record.safeParse(answerBody);
      if (r.response.status !== 200 || !ok.success || ok.data.key !== idempotencyKey)
        throw new PaymentGatewayError(`payment gateway lookup answered ${r.response.status}: ${JSON.stringify(answerBody).slice(0, 300)}`);
      return ok.data;
    },
  };
}
