// Reads the console's time series back from metrics_buckets as chart points: one _id range scan
// per resolution. Sums across instances are already in the documents, so every instance answers
// the same points; latency percentiles come from the summed histogram.
import type { Db } from 'mongodb';
import {
  type BucketDoc,
  bucketId,
  bucketStart,
  bucketsCollection,
  INTAKE_OUTCOMES,
  type IntakeOutcome,
  MINUTE_WINDOW,
  quantile,
  type Resolution,
  SECOND_WINDOW,
  stepMs,
  typeOfKey,
} from './series-buckets.js';

export interface SeriesPoint {
  /** Bucket start, epoch ms. */
  t: number;
  intake: Record<IntakeOutcome, number>;
  /** API requests in the bucket and their latency percentiles (ms; null without requests). */
  requests: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  done: Record<string, number>;
  depth: Record<string, number>;
  oldestMs: Record<string, number>;
  errors: Record<string, number>;
  breakers: Record<string, number>;
  calls: Record<string, number>;
}

const decode = <V>(o: Record<string, V> | undefined) => Object.fromEntries(Object.entries(o ?? {}).map(([k, v]) => [typeOfKey(k), v]));

export function toPoint(d: BucketDoc): SeriesPoint {
  const depth: Record<string, number> = {};
  const oldestMs: Record<string, number> = {};
  for (const [k, q] of Object.entries(d.q ?? {})) {
    depth[typeOfKey(k)] = q.depth ?? 0;
    oldestMs[typeOfKey(k)] = q.oldest ?? 0;
  }
  const lat = d.http?.lat;
  return {
    t: d.t.getTime(),
    intake: Object.fromEntries(INTAKE_OUTCOMES.map((o) => [o, d.intake?.[o] ?? 0])) as Record<IntakeOutcome, number>,
    requests: d.http?.n ?? 0,
    p50: quantile(lat, 0.5),
    p95: quantile(lat, 0.95),
    p99: quantile(lat, 0.99),
    done: decode(d.done),
    depth,
    oldestMs,
    errors: { ...(d.err ?? {}) },
    breakers: decode(d.br),
    calls: decode(d.calls),
  };
}

/** The buckets of resolution `r` from `fromMs` to `toMs` (both included), oldest first. */
export async function readPoints(db: Db, r: Resolution, fromMs: number, toMs: number): Promise<SeriesPoint[]> {
  const docs = await bucketsCollection(db)
    .find({ _id: { $gte: bucketId(r, bucketStart(r, fromMs)), $lte: bucketId(r, bucketStart(r, toMs)) } })
    .sort({ _id: 1 })
    .toArray();
  return docs.map(toPoint);
}

/** The whole window a console shows on connect: 15 min of seconds and 24 h of minutes. */
export async function readWindow(db: Db, now: number): Promise<{ s: SeriesPoint[]; m: SeriesPoint[] }> {
  const [s, m] = await Promise.all([
    readPoints(db, 's', now - SECOND_WINDOW * stepMs('s'), now),
    readPoints(db, 'm', now - MINUTE_WINDOW * stepMs('m'), now),
  ]);
  return { s, m };
}

/** The buckets that may still change: the last few seconds (instances flush a second late) and the last two minutes. */
export async function readRecent(db: Db, now: number): Promise<{ s: SeriesPoint[]; m: SeriesPoint[] }> {
  const [s, m] = await Promise.all([readPoints(db, 's', now - 5000, now), readPoints(db, 'm', now - 60_000, now)]);
  return { s, m };
}
