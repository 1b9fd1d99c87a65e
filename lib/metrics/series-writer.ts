// Each API instance's side of the console's time series: request counters are added up in memory
// for the second they happen in, and once a second ONE unordered bulkWrite $inc's them into that
// second's and that minute's bucket (metrics_buckets). If this instance holds the sampler lease,
// the same bulkWrite carries the gauges it sampled. So the cost is one write round trip per
// instance per second whatever the traffic, and every instance reads the same sums back.
import type { AnyBulkWriteOperation, Db } from 'mongodb';
import type { Collections } from '../domain/collections.js';
import type { Logger } from '../logger.js';
import {
  type BucketDoc,
  bucketId,
  bucketStart,
  bucketsCollection,
  expiry,
  type IntakeOutcome,
  latencySlot,
  type Resolution,
  typeKey,
} from './series-buckets.js';
import { type Sample, SeriesSampler } from './series-sampler.js';

type Counters = Record<string, number>;

export class SeriesWriter {
  /** Counter increments by the second (ms) they happened in; flushed once that second is over. */
  private readonly pending = new Map<number, Counters>();
  private readonly sampler: SeriesSampler;
  private timer: NodeJS.Timeout | undefined;
  private flushing = false;

  constructor(
    private readonly db: Db,
    c: Collections,
    private readonly log: Logger,
    owner: string,
    /** Stops the loop when it answers true (the instance drains). */
    private readonly stopped: () => boolean,
  ) {
    this.sampler = new SeriesSampler(db, c, owner);
  }

  private add(path: string, n = 1, at = Date.now()): void {
    const s = bucketStart('s', at);
    const counters = this.pending.get(s) ?? {};
    this.pending.set(s, counters);
    counters[path] = (counters[path] ?? 0) + n;
  }

  intake(outcome: IntakeOutcome): void {
    this.add(`intake.${outcome}`);
  }

  /** An API request's duration (SSE streams are not requests that end: the caller leaves them out). */
  request(ms: number): void {
    this.add('http.n');
    this.add(`http.lat.${latencySlot(ms)}`);
  }

  /** Starts the once-a-second loop (unref'd: it never keeps the process alive). */
  start(): void {
    if (this.timer) return;
    const tick = () => {
      if (this.stopped()) return this.stop();
      // Fire just after each second boundary, so the second being flushed is complete.
      this.timer = setTimeout(tick, 1000 - (Date.now() % 1000) + 50);
      this.timer.unref();
      if (!this.flushing) {
        this.flushing = true;
        void this.flush(Date.now())
          .catch((err: unknown) => {
            if (!this.stopped()) this.log.warn({ err }, 'writing the console time series failed');
          })
          .finally(() => {
            this.flushing = false;
          });
      }
    };
    tick();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Writes the counters of every finished second and, as the sampler, the gauges of the second just ended. */
  async flush(now: number): Promise<void> {
    const current = bucketStart('s', now);
    const ops: AnyBulkWriteOperation<BucketDoc>[] = [];
    for (const [s, counters] of this.pending) {
      if (s >= current) continue;
      this.pending.delete(s);
      ops.push(inc('s', s, counters), inc('m', bucketStart('m', s), counters));
    }
    if (await this.sampler.holds(now)) {
      const s = current - 1000;
      ops.push(...sampleOps(s, await this.sampler.sample(now)));
    }
    if (ops.length > 0) await bucketsCollection(this.db).bulkWrite(ops, { ordered: false, writeConcern: { w: 1 } });
  }
}

const upsert = (r: Resolution, start: number, update: Record<string, object>): AnyBulkWriteOperation<BucketDoc> => ({
  updateOne: {
    filter: { _id: bucketId(r, start) },
    update: { ...update, $setOnInsert: { t: new Date(start), expireAt: expiry(r, start) } },
    upsert: true,
  },
});

const inc = (r: Resolution, start: number, counters: Counters) => upsert(r, start, { $inc: counters });

/** The sample as a $set on its second's bucket and as $max (gauges) / $inc (counts) on its minute's. */
function sampleOps(s: number, x: Sample): AnyBulkWriteOperation<BucketDoc>[] {
  const gauges: Record<string, number> = {};
  const counts: Record<string, number> = {};
  for (const [type, q] of Object.entries(x.queue)) {
    gauges[`q.${typeKey(type)}.depth`] = q.depth;
    gauges[`q.${typeKey(type)}.oldest`] = q.oldest;
  }
  for (const [vendor, level] of Object.entries(x.breakers)) gauges[`br.${typeKey(vendor)}`] = level;
  for (const [type, n] of Object.entries(x.done)) counts[`done.${typeKey(type)}`] = n;
  for (const [category, n] of Object.entries(x.err)) counts[`err.${category}`] = n;
  for (const [vendor, n] of Object.entries(x.calls)) counts[`calls.${typeKey(vendor)}`] = n;
  const second = { ...gauges, ...counts };
  const ops = [upsert('s', s, Object.keys(second).length ? { $set: second } : {})];
  const minute: Record<string, object> = {};
  if (Object.keys(gauges).length) minute.$max = gauges;
  if (Object.keys(counts).length) minute.$inc = counts;
  ops.push(upsert('m', bucketStart('m', s), minute));
  return ops;
}
