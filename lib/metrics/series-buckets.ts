// The console's time series (docs/adr/0022-console-time-series.md): pre-bucketed in MongoDB so
// every API instance serves the same numbers. One `metrics_buckets` document per second
// (`s:<epoch second>`, kept 16 min) and per minute (`m:<epoch minute>`, kept 24 h + 1 min); every
// instance $inc's its request counters into both once a second, and the one instance holding the
// sampler lease $set's (second) / $max's or $inc's (minute) the gauges it samples. The _id sorts by
// time (fixed width), so a window is one _id range scan; the TTL index on expireAt only cleans up.
import type { Collection, Db, IndexDescription } from 'mongodb';

export const METRICS_BUCKETS = 'metrics_buckets';
export type Resolution = 's' | 'm';
export const SECOND_WINDOW = 15 * 60; // seconds of per-second buckets the console shows
export const MINUTE_WINDOW = 24 * 60; // minutes of per-minute buckets

/** Upper bounds (ms) of the request-latency histogram; one more slot counts everything above. */
export const LATENCY_BOUNDS_MS = [1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700, 1000, 2000, 5000, 10_000];

export const INTAKE_OUTCOMES = ['accepted', 'replayed', 'rejected', 'limited', 'paused'] as const;
export type IntakeOutcome = (typeof INTAKE_OUTCOMES)[number];

/** Breaker states as numbers for a chart: closed 0, half-open 1, open 2. */
export const BREAKER_LEVEL = { closed: 0, half_open: 1, open: 2 } as const;

export interface BucketDoc {
  _id: string;
  t: Date;
  expireAt: Date;
  /** Partner intake outcomes (every instance, $inc). */
  intake?: Partial<Record<IntakeOutcome, number>>;
  /** API requests (SSE streams excluded): count and latency histogram slot → count (every instance, $inc). */
  http?: { n?: number; lat?: Record<string, number> };
  /** Completions per event type (sampler). Keys are encoded with typeKey(). */
  done?: Record<string, number>;
  /** Queue depth (pending) and oldest pending age in ms per event type (sampler). */
  q?: Record<string, { depth?: number; oldest?: number }>;
  /** Error-log occurrences per category (sampler). */
  err?: Record<string, number>;
  /** Vendor breaker level per vendor (sampler). */
  br?: Record<string, number>;
  /** Vendor calls (ok + failed) per vendor (sampler, from the breakers' buckets). */
  calls?: Record<string, number>;
}

export function bucketsCollection(db: Db): Collection<BucketDoc> {
  return db.collection<BucketDoc>(METRICS_BUCKETS);
}

/** Created by migration 015: the TTL on expireAt (reads go by _id range; nothing else is queried). */
export const BUCKET_INDEXES: IndexDescription[] = [{ key: { expireAt: 1 }, name: 'ttl', expireAfterSeconds: 0 }];

const STEP_MS: Record<Resolution, number> = { s: 1000, m: 60_000 };
const KEEP_MS: Record<Resolution, number> = { s: (SECOND_WINDOW + 60) * 1000, m: (MINUTE_WINDOW + 1) * 60_000 };

/** The bucket start (ms) holding `ms` at resolution `r`. */
export const bucketStart = (r: Resolution, ms: number) => Math.floor(ms / STEP_MS[r]) * STEP_MS[r];
/** `s:0001763700000` style ids: fixed width, so string order is time order. */
export const bucketId = (r: Resolution, startMs: number) => `${r}:${String(Math.floor(startMs / STEP_MS[r])).padStart(13, '0')}`;
export const expiry = (r: Resolution, startMs: number) => new Date(startMs + KEEP_MS[r]);
export const stepMs = (r: Resolution) => STEP_MS[r];

/** Event types contain dots, which a field path would read as nesting: "ocr.requested" ↔ "ocr:requested". */
export const typeKey = (type: string) => type.replaceAll('.', ':');
export const typeOfKey = (key: string) => key.replaceAll(':', '.');

/** The latency slot of a duration: the first bound it does not exceed (the last slot: above them all). */
export function latencySlot(ms: number): number {
  const i = LATENCY_BOUNDS_MS.findIndex((b) => ms <= b);
  return i === -1 ? LATENCY_BOUNDS_MS.length : i;
}

/**
 * The q-quantile (0..1) of a histogram, interpolated linearly inside the slot it falls in (the
 * last, open slot answers its lower bound). Null without observations. Slots summed across
 * instances give the exact histogram of all of them, so the quantile is the same everywhere.
 */
export function quantile(lat: Record<string, number> | undefined, q: number): number | null {
  if (!lat) return null;
  const counts = Array.from({ length: LATENCY_BOUNDS_MS.length + 1 }, (_, i) => lat[String(i)] ?? 0);
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i]!;
    if (n > 0 && seen + n >= rank) {
      const lo = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1]!;
      const hi = LATENCY_BOUNDS_MS[i] ?? lo;
      return Math.round((lo + ((hi - lo) * (rank - seen)) / n) * 10) / 10;
    }
    seen += n;
  }
  return LATENCY_BOUNDS_MS.at(-1)!;
}
