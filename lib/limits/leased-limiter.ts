// Per-instance front of the shared GCRA bucket (gcra.ts): takes tokens in leases of a fraction of
// the rate and spends them locally, so accepted requests cost no database round trip each; once
// the bucket refuses a lease the instance remembers "over limit until T" and refuses without
// touching the database until then. The bucket's burst is `burstLeases` leases (set it to the
// number of instances, so each can hold one lease at once). Tolerance: in a window of t seconds at
// most R×t + burstLeases × lease are accepted (instances × lease with burstLeases = instances), and
// as many fewer may be (leased tokens an instance never spends before leaseTtlMs).
import type { Db } from 'mongodb';
import { takeTokens } from './gcra.js';

/** Keys kept per instance at most; beyond that the map starts over (bounded memory). */
const MAX_KEYS = 10_000;

export interface LimitVerdict {
  allowed: boolean;
  /** Denied: milliseconds until the instance asks the bucket again. */
  retryAfterMs: number;
}

interface KeyState {
  tokens: number;
  /** Unspent tokens are dropped after this (a stale lease would otherwise burst later). */
  leaseUntil: number;
  blockedUntil: number;
  pending?: Promise<void>;
}

export interface LeasedLimiterOptions {
  /** A lease is max(1, ceil(rate × leaseFraction)) tokens. */
  leaseFraction: number;
  /** The shared bucket's burst, in leases (≥ 1): one per instance lets every instance hold a lease. */
  burstLeases: number;
  /** How long a lease's unspent tokens may be used. */
  leaseTtlMs: number;
}

export class LeasedLimiter {
  private readonly keys = new Map<string, KeyState>();
  /** Round trips to the shared bucket so far (granted or refused). */
  bucketReads = 0;

  constructor(
    private readonly db: Db,
    private readonly opts: LeasedLimiterOptions,
  ) {}

  /** The lease size (and burst) for a rate. */
  leaseSize(ratePerSecond: number): number {
    return Math.max(1, Math.ceil(ratePerSecond * this.opts.leaseFraction));
  }

  /** Spends one token of `key` (rate `ratePerSecond`), leasing more from the shared bucket when out. */
  async take(key: string, ratePerSecond: number): Promise<LimitVerdict> {
    for (;;) {
      const s = this.state(key);
      const now = Date.now();
      if (s.tokens > 0 && s.leaseUntil > now) {
        s.tokens--;
        return { allowed: true, retryAfterMs: 0 };
      }
      if (s.blockedUntil > now) return { allowed: false, retryAfterMs: s.blockedUntil - now };
      // One lease request per key at a time; the others wait for it and look again.
      s.pending ??= this.lease(key, s, ratePerSecond).finally(() => {
        s.pending = undefined;
      });
      await s.pending;
    }
  }

  private async lease(key: string, s: KeyState, ratePerSecond: number): Promise<void> {
    const n = this.leaseSize(ratePerSecond);
    this.bucketReads++;
    const r = await takeTokens(this.db, key, { ratePerSecond, burst: n * this.opts.burstLeases }, n);
    const now = Date.now();
    if (r.allowed) {
      s.tokens = n;
      s.leaseUntil = now + this.opts.leaseTtlMs;
    } else {
      s.tokens = 0;
      s.blockedUntil = now + Math.max(1, r.retryAfterMs);
    }
  }

  private state(key: string): KeyState {
    let s = this.keys.get(key);
    if (!s) {
      if (this.keys.size >= MAX_KEYS) this.keys.clear();
      s = { tokens: 0, leaseUntil: 0, blockedUntil: 0 };
      this.keys.set(key, s);
    }
    return s;
  }
}
