// A retry budget per vendor, per process: over a sliding window (10 buckets), retries may not
// exceed minRetries + ratio × calls (first attempts). It keeps a failing vendor from receiving
// (1 + retries) × the traffic exactly when it is least able to take it. The totals only grow, so a
// metrics module can export them as counters.
export interface RetryBudgetOptions {
  /** Retries allowed per call in the window (0..1), e.g. 0.2. */
  ratio: number;
  /** Retries always allowed per window, so a vendor with few calls can still be retried. */
  minRetries: number;
  /** The window (default 10 s, in 10 buckets). */
  windowMs?: number;
}

export interface RetryBudgetSnapshot {
  ratio: number;
  minRetries: number;
  windowCalls: number;
  windowRetries: number;
  /** Retries the window still allows. */
  available: number;
  callsTotal: number;
  retriesTotal: number;
  retriesDeniedTotal: number;
}

const BUCKETS = 10;

export class RetryBudget {
  private readonly calls = new Array<number>(BUCKETS).fill(0);
  private readonly retries = new Array<number>(BUCKETS).fill(0);
  private readonly stamps = new Array<number>(BUCKETS).fill(-1);
  private readonly bucketMs: number;
  callsTotal = 0;
  retriesTotal = 0;
  retriesDeniedTotal = 0;

  constructor(
    private readonly opts: RetryBudgetOptions,
    private readonly now: () => number = Date.now,
  ) {
    if (!(opts.ratio >= 0 && opts.ratio <= 1) || opts.minRetries < 0)
      throw new RangeError('ratio in [0, 1] and minRetries ≥ 0 are required');
    this.bucketMs = Math.max(1, Math.floor((opts.windowMs ?? 10_000) / BUCKETS));
  }

  /** A first attempt was made. */
  onCall(): void {
    this.calls[this.slot()]!++;
    this.callsTotal++;
  }

  /** Asks for one retry: true (and counted) if the window allows it. */
  tryRetry(): boolean {
    const i = this.slot();
    if (this.available() < 1) {
      this.retriesDeniedTotal++;
      return false;
    }
    this.retries[i]!++;
    this.retriesTotal++;
    return true;
  }

  snapshot(): RetryBudgetSnapshot {
    this.slot();
    const { calls, retries } = this.sums();
    return {
      ratio: this.opts.ratio,
      minRetries: this.opts.minRetries,
      windowCalls: calls,
      windowRetries: retries,
      available: this.available(),
      callsTotal: this.callsTotal,
      retriesTotal: this.retriesTotal,
      retriesDeniedTotal: this.retriesDeniedTotal,
    };
  }

  private available(): number {
    const { calls, retries } = this.sums();
    return Math.max(0, Math.floor(this.opts.minRetries + this.opts.ratio * calls - retries));
  }

  private sums(): { calls: number; retries: number } {
    const oldest = Math.floor(this.now() / this.bucketMs) - BUCKETS + 1;
    let calls = 0;
    let retries = 0;
    for (let i = 0; i < BUCKETS; i++)
      if (this.stamps[i]! >= oldest) {
        calls += this.calls[i]!;
        retries += this.retries[i]!;
      }
    return { calls, retries };
  }

  /** The current bucket's index, cleared when it last held an older period. */
  private slot(): number {
    const t = Math.floor(this.now() / this.bucketMs);
    const i = t % BUCKETS;
    if (this.stamps[i] !== t) {
      this.stamps[i] = t;
      this.calls[i] = 0;
      this.retries[i] = 0;
    }
    return i;
  }
}
