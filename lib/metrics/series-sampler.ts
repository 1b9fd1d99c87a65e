// The gauges of the console's time series, sampled once a second by ONE API instance at a time
// (the holder of the `metrics.sampler` lease lock): queue depth and oldest pending age per type,
// completions per type, error-log occurrences per category and vendor calls (from the breakers'
// buckets), each since the last sample, and each vendor breaker's state. One sampler means one set
// of queries per second for the whole deployment, not one per instance; when its instance dies
// the lease expires and another instance takes over within SAMPLER_LEASE_MS.
import type { Db } from 'mongodb';
import type { Collections } from '../domain/collections.js';
import { ERROR_LOG_INDEX } from '../domain/error-log/indexes.js';
import { type CircuitBreakerDoc, circuitBreakersCollection } from '../limits/circuit-breaker-store.js';
import { acquire, renew, type Lease } from '../locks/index.js';
import { eventsCollection, queueStats } from '../queue/index.js';
import { TTL_INDEX } from '../queue/collection.js';
import { BREAKER_LEVEL } from './series-buckets.js';

export const SAMPLER_LOCK = 'metrics.sampler';
const SAMPLER_LEASE_MS = 5000;
const RENEW_EVERY_MS = 2000;
/** Error-log entries are re-read with this overlap, so an occurrence committed late is still counted (once: deltas per entry). */
const ERROR_OVERLAP_MS = 3000;
const FORGET_ENTRY_MS = 10 * 60_000;

export interface Sample {
  queue: Record<string, { depth: number; oldest: number }>;
  done: Record<string, number>;
  err: Record<string, number>;
  breakers: Record<string, number>;
  /** Vendor calls (ok + failed) the breakers recorded since the last sample, per vendor. */
  calls: Record<string, number>;
}

export class SeriesSampler {
  private lease: Lease | undefined;
  private leaseAt = 0;
  private triedAt = 0;
  /** The newest completed event's expireAt counted so far (expireAt = completedAt + retention). */
  private watermark: Date | undefined;
  private samplingSince = 0;
  private errorsReadAt = 0;
  private readonly errorCounts = new Map<string, { count: number; at: number }>();
  /** Per vendor: ok + fail last seen in each breaker bucket, keyed "<generation>:<bucket>". */
  private readonly callCounts = new Map<string, Map<string, number>>();

  constructor(
    private readonly db: Db,
    private readonly c: Collections,
    private readonly owner: string,
  ) {}

  /** Whether this instance holds the sampler lease (acquired or renewed as needed; errors mean no). */
  async holds(now: number): Promise<boolean> {
    if (this.lease && now - this.leaseAt >= RENEW_EVERY_MS) {
      this.lease = (await renew(this.db, this.lease, SAMPLER_LEASE_MS)) ?? undefined;
      this.leaseAt = now;
      if (!this.lease) this.reset();
    } else if (!this.lease && now - this.triedAt >= RENEW_EVERY_MS) {
      this.triedAt = now;
      this.lease = (await acquire(this.db, SAMPLER_LOCK, SAMPLER_LEASE_MS, { owner: this.owner })) ?? undefined;
      this.leaseAt = now;
    }
    return this.lease !== undefined;
  }

  private reset(): void {
    this.watermark = undefined;
    this.errorCounts.clear();
    this.callCounts.clear();
  }

  /** One sample; the first after taking the lease has no completions or errors (nothing to count from yet). */
  async sample(now: number): Promise<Sample> {
    const first = this.watermark === undefined;
    if (first) {
      this.samplingSince = now;
      this.errorsReadAt = now;
      const [newest] = await eventsCollection(this.db)
        .find({ expireAt: { $exists: true } }, { projection: { _id: 0, expireAt: 1 } })
        .hint(TTL_INDEX)
        .sort({ expireAt: -1 })
        .limit(1)
        .toArray();
      this.watermark = newest?.expireAt ?? new Date(0);
    }
    const [stats, done, err, breakers] = await Promise.all([
      queueStats(this.db),
      first ? {} : this.completions(),
      first ? {} : this.errors(now),
      circuitBreakersCollection(this.db)
        .find({}, { projection: { state: 1, generation: 1, buckets: 1 } })
        .limit(100)
        .toArray(),
    ]);
    const queue: Sample['queue'] = {};
    for (const [type, t] of Object.entries(stats.types)) queue[type] = { depth: t.pending, oldest: t.pending ? t.oldestPendingAgeMs : 0 };
    return {
      queue,
      done,
      err,
      breakers: Object.fromEntries(breakers.map((b) => [b._id, BREAKER_LEVEL[b.state] ?? 0])),
      calls: this.calls(breakers),
    };
  }

  /**
   * Vendor calls since the last sample: a breaker keeps ok/fail counts in time buckets of its
   * current generation (lib/limits/circuit-breaker-store.ts), so the new calls are each bucket's
   * growth since the last sample. A vendor seen for the first time only sets the baseline.
   */
  private calls(breakers: Array<Pick<CircuitBreakerDoc, '_id' | 'generation' | 'buckets'>>): Record<string, number> {
    const calls: Record<string, number> = {};
    for (const b of breakers) {
      const prev = this.callCounts.get(b._id);
      const now = new Map((b.buckets ?? []).map((x) => [`${b.generation}:${x.t}`, x.ok + x.fail]));
      this.callCounts.set(b._id, now);
      if (!prev) continue;
      let added = 0;
      for (const [key, n] of now) added += Math.max(0, n - (prev.get(key) ?? 0));
      if (added > 0) calls[b._id] = added;
    }
    return calls;
  }

  /** Completed events per type since the watermark: a range on the TTL index (only completed events carry expireAt). */
  private async completions(): Promise<Record<string, number>> {
    const rows = await eventsCollection(this.db)
      .aggregate<{ _id: string; n: number; newest: Date }>(
        [{ $match: { expireAt: { $gt: this.watermark } } }, { $group: { _id: '$type', n: { $sum: 1 }, newest: { $max: '$expireAt' } } }],
        { hint: TTL_INDEX },
      )
      .toArray();
    const done: Record<string, number> = {};
    for (const r of rows) {
      done[r._id] = r.n;
      if (this.watermark && r.newest > this.watermark) this.watermark = r.newest;
    }
    return done;
  }

  /**
   * Error-log occurrences per category since the last read. An entry counts every occurrence in
   * one document (`count`), so the new ones are the growth of `count` since this sampler last saw
   * it; an entry first seen after sampling started counts whole; one older and not seen before
   * counts 1 (at least its latest occurrence is new).
   */
  private async errors(now: number): Promise<Record<string, number>> {
    const since = new Date(this.errorsReadAt - ERROR_OVERLAP_MS);
    this.errorsReadAt = now;
    const docs = await this.c.errorLog
      .find({ lastSeen: { $gte: since } }, { projection: { category: 1, count: 1, firstSeen: 1 } })
      .hint(ERROR_LOG_INDEX.all)
      .toArray();
    const err: Record<string, number> = {};
    for (const d of docs) {
      const id = String(d._id);
      const prev = this.errorCounts.get(id);
      const added = prev ? d.count - prev.count : d.firstSeen.getTime() >= this.samplingSince ? d.count : 1;
      this.errorCounts.set(id, { count: d.count, at: now });
      if (added > 0) err[d.category] = (err[d.category] ?? 0) + added;
    }
    for (const [id, e] of this.errorCounts) if (now - e.at > FORGET_ENTRY_MS) this.errorCounts.delete(id);
    return err;
  }
}
