// The credit bureau's VendorClient from its settings (lib/config.ts bureauSchema): the shared
// limiter, the shared breaker and the retry policy, built once per process.
import type { Db } from 'mongodb';
import type { BureauConfig } from '../config.js';
import { CircuitBreaker } from '../limits/circuit-breaker.js';
import { LeasedLimiter } from '../limits/leased-limiter.js';
import { VendorClient } from './call-vendor.js';

export const BUREAU_VENDOR = 'credit-bureau';

/** `owner`: this process (INSTANCE_ID); `onError`: background breaker writes that failed. */
export function bureauVendor(db: Db, cfg: BureauConfig, owner: string, onError?: (err: unknown) => void): VendorClient {
  const limiter = new LeasedLimiter(db, {
    leaseFraction: cfg.BUREAU_RATE_LEASE_FRACTION,
    burstLeases: cfg.BUREAU_RATE_BURST_LEASES,
    leaseTtlMs: cfg.BUREAU_RATE_LEASE_TTL_MS,
  });
  const breaker = new CircuitBreaker(db, {
    vendor: BUREAU_VENDOR,
    owner,
    windowBuckets: cfg.BUREAU_BREAKER_WINDOW_BUCKETS,
    bucketMs: cfg.BUREAU_BREAKER_BUCKET_MS,
    minCalls: cfg.BUREAU_BREAKER_MIN_CALLS,
    failureRatio: cfg.BUREAU_BREAKER_FAILURE_RATIO,
    coolDownMs: cfg.BUREAU_BREAKER_COOL_DOWN_MS,
    probeLeaseMs: cfg.BUREAU_BREAKER_PROBE_LEASE_MS,
    cacheMs: cfg.BUREAU_BREAKER_CACHE_MS,
    flushMs: cfg.BUREAU_BREAKER_FLUSH_MS,
    ...(onError ? { onError } : {}),
  });
  return new VendorClient(
    {
      name: BUREAU_VENDOR,
      ratePerSecond: cfg.BUREAU_RATE_PER_SECOND,
      timeoutMs: cfg.BUREAU_TIMEOUT_MS,
      maxAttempts: cfg.BUREAU_MAX_ATTEMPTS,
      backoff: { baseMs: cfg.BUREAU_BACKOFF_BASE_MS, capMs: cfg.BUREAU_BACKOFF_CAP_MS },
      maxInlineWaitMs: cfg.BUREAU_MAX_INLINE_WAIT_MS,
      retryBudget: { ratio: cfg.BUREAU_RETRY_BUDGET_RATIO, minRetries: cfg.BUREAU_RETRY_BUDGET_MIN },
    },
    limiter,
    breaker,
  );
}
