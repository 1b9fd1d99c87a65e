// One wrapper for every call to an outside vendor (credit bureau, payment gateway). Per attempt:
//  1. the vendor's own Retry-After (remembered in this process) → "retry at T";
//  2. the shared circuit breaker (lib/limits/circuit-breaker.ts) → "retry at T" while open;
//  3. the shared rate limit (lib/limits/leased-limiter.ts, key "vendor:<name>", the same limiter
//     as the partner API) → "retry at T" when the lender's rate with the vendor is used up;
//  4. the call with its own timeout (AbortSignal.timeout), classified: 2xx–4xx is an answer (the
//     vendor is healthy; 429 is its rate limit, honoured through Retry-After), 5xx, 408, a timeout
//     or a network error is a failure the breaker counts.
// A failure is retried here after an exponential backoff with full jitter (lib/queue/backoff.ts
// for the exponential part) while attempts remain, the process's retry budget allows it and the
// wait is at most maxInlineWaitMs; otherwise the result says when to retry, and the caller (the
// queue) reschedules the event. A denied call never sleeps. A probe is one attempt, never retried.
import { setTimeout as sleep } from 'node:timers/promises';
import type { CircuitBreaker } from '../limits/circuit-breaker.js';
import type { LeasedLimiter } from '../limits/leased-limiter.js';
import { backoffDelay } from '../queue/backoff.js';
import { RetryBudget, type RetryBudgetOptions, type RetryBudgetSnapshot } from './retry-budget.js';

export interface VendorOptions {
  name: string;
  /** The lender's contract with the vendor, shared by every process. */
  ratePerSecond: number;
  /** Per attempt. */
  timeoutMs: number;
  /** Attempts per call, the first included. */
  maxAttempts: number;
  backoff: { baseMs: number; capMs: number };
  /** A retry that would wait longer than this is handed back as "retry at T" instead of waiting. */
  maxInlineWaitMs: number;
  retryBudget: RetryBudgetOptions;
}

export interface AttemptContext {
  /** Aborts at the attempt's timeout or when the caller's signal aborts. */
  signal: AbortSignal;
  attempt: number;
  /** This attempt is the half-open breaker's probe. */
  probe: boolean;
}

export type DeniedReason = 'rate_limited' | 'circuit_open' | 'vendor_error' | 'retry_budget';

export type VendorCallResult =
  | { ok: true; response: Response; attempts: number }
  | { ok: false; reason: DeniedReason; retryAt: Date; attempts: number; status?: number; error?: string };

export interface VendorMetrics {
  vendor: string;
  calls: number;
  attempts: number;
  successes: number;
  failures: number;
  timeouts: number;
  vendor429: number;
  deniedRateLimit: number;
  deniedCircuit: number;
  retries: RetryBudgetSnapshot;
  limiterBucketReads: number;
}

/** Retry-After as seconds or an HTTP date → milliseconds from now (undefined when absent or unreadable). */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Full jitter: uniform over [0, min(cap, base × 2^(attempt−1))). */
export function fullJitterDelay(attempt: number, backoff: { baseMs: number; capMs: number }, random: () => number = Math.random): number {
  return Math.floor(random() * backoffDelay(attempt, { baseMs: backoff.baseMs, factor: 2, capMs: backoff.capMs, jitter: 0 }));
}

const isFailureStatus = (status: number) => status >= 500 || status === 408;

export class VendorClient {
  readonly budget: RetryBudget;
  /** The vendor's last Retry-After, as a local time. */
  private blockedUntil = 0;
  private readonly counters = {
    calls: 0,
    attempts: 0,
    successes: 0,
    failures: 0,
    timeouts: 0,
    vendor429: 0,
    deniedRateLimit: 0,
    deniedCircuit: 0,
  };

  constructor(
    readonly opts: VendorOptions,
    private readonly limiter: LeasedLimiter,
    readonly breaker: CircuitBreaker,
    private readonly random: () => number = Math.random,
  ) {
    this.budget = new RetryBudget(opts.retryBudget);
  }

  /** `attempt` makes one HTTP request with the given signal; its body is read by the caller of call(). */
  async call(attempt: (ctx: AttemptContext) => Promise<Response>, signal?: AbortSignal): Promise<VendorCallResult> {
    this.counters.calls++;
    this.budget.onCall();
    for (let n = 1; ; n++) {
      const now = Date.now();
      if (now < this.blockedUntil) return this.denied('rate_limited', this.blockedUntil, n - 1);
      const permit = await this.breaker.permit();
      if (!permit.allowed) return this.denied('circuit_open', permit.retryAt.getTime(), n - 1);
      const token = await this.limiter.take(`vendor:${this.opts.name}`, this.opts.ratePerSecond);
      if (!token.allowed) {
        await this.breaker.abandon(permit);
        return this.denied('rate_limited', Date.now() + token.retryAfterMs, n - 1);
      }
      this.counters.attempts++;
      const timeout = AbortSignal.timeout(this.opts.timeoutMs);
      let response: Response | undefined;
      let error: unknown;
      try {
        response = await attempt({ signal: signal ? AbortSignal.any([timeout, signal]) : timeout, attempt: n, probe: !!permit.probe });
      } catch (e) {
        error = e;
      }
      if (signal?.aborted) {
        // The caller is stopping: not the vendor's fault, nothing to record.
        await response?.body?.cancel().catch(() => {});
        await this.breaker.abandon(permit);
        throw signal.reason;
      }
      if (response && !isFailureStatus(response.status)) {
        await this.breaker.record('success', permit);
        if (response.status !== 429) {
          this.counters.successes++;
          return { ok: true, response, attempts: n };
        }
        // The vendor's rate limit: honour its Retry-After (at least one second when it gives none).
        this.counters.vendor429++;
        const wait = retryAfterMs(response.headers.get('retry-after')) ?? 1000;
        await response.body?.cancel().catch(() => {});
        this.blockedUntil = Math.max(this.blockedUntil, Date.now() + wait);
        if (permit.probe || n >= this.opts.maxAttempts || wait > this.opts.maxInlineWaitMs || !this.budget.tryRetry())
          return this.denied('rate_limited', this.blockedUntil, n, 429);
        await sleep(wait, undefined, signal ? { signal } : {});
        continue;
      }
      // A failure: 5xx/408, a timeout or a network error.
      this.counters.failures++;
      if (timeout.aborted) this.counters.timeouts++;
      await this.breaker.record('failure', permit);
      const status = response?.status;
      const vendorWait = retryAfterMs(response?.headers.get('retry-after') ?? null) ?? 0;
      await response?.body?.cancel().catch(() => {});
      const message = response ? `HTTP ${response.status}` : String((error as Error)?.message ?? error);
      const wait = Math.max(vendorWait, fullJitterDelay(n, this.opts.backoff, this.random));
      if (permit.probe) return this.denied('vendor_error', Date.now() + this.breaker.opts.coolDownMs, n, status, message);
      if (n >= this.opts.maxAttempts) return this.denied('vendor_error', Date.now() + wait, n, status, message);
      if (wait > this.opts.maxInlineWaitMs) return this.denied('vendor_error', Date.now() + wait, n, status, message);
      if (!this.budget.tryRetry()) return this.denied('retry_budget', Date.now() + wait, n, status, message);
      await sleep(wait, undefined, signal ? { signal } : {});
    }
  }

  /** Numbers a metrics module can export (totals only grow). */
  metrics(): VendorMetrics {
    return {
      vendor: this.opts.name,
      ...this.counters,
      retries: this.budget.snapshot(),
      limiterBucketReads: this.limiter.bucketReads,
    };
  }

  private denied(reason: DeniedReason, at: number, attempts: number, status?: number, error?: string): VendorCallResult {
    if (reason === 'rate_limited') this.counters.deniedRateLimit++;
    if (reason === 'circuit_open') this.counters.deniedCircuit++;
    return {
      ok: false,
      reason,
      retryAt: new Date(at),
      attempts,
      ...(status !== undefined ? { status } : {}),
      ...(error !== undefined ? { error } : {}),
    };
  }
}
