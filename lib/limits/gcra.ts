// A generic rate limiter shared by every instance: GCRA (as redis-cell) in MongoDB. Each key is
// one `rate_limits` document holding its theoretical arrival time (`tat`); taking n tokens is one
// atomic findOneAndUpdate with an update pipeline computed from the server's clock ($$NOW), so
// instances with skewed clocks agree and concurrent takers never both get the last token.
import type { Db } from 'mongodb';

export interface RateLimitDoc {
  _id: string;
  /** Theoretical arrival time: the bucket is full again at this instant. */
  tat: Date;
  /** Whether the last take was allowed, and the server time it was decided at. */
  ok: boolean;
  now: Date;
}

export interface GcraPolicy {
  /** Sustained rate (tokens per second), > 0. */
  ratePerSecond: number;
  /** Tokens that may be taken at once from a full bucket (≥ 1). */
  burst: number;
}

export interface TakeResult {
  allowed: boolean;
  /** Whole tokens left right after this take (0 when denied). */
  remaining: number;
  /** Denied: milliseconds until `n` tokens can be taken. Allowed: 0. */
  retryAfterMs: number;
  /** Milliseconds until the bucket is full again. */
  resetMs: number;
}

export const RATE_LIMITS = 'rate_limits';

export function rateLimitsCollection(db: Db) {
  return db.collection<RateLimitDoc>(RATE_LIMITS);
}

/** Takes `n` tokens from `key`'s bucket, all or none, in one round trip. */
export async function takeTokens(db: Db, key: string, policy: GcraPolicy, n = 1): Promise<TakeResult> {
  if (!(policy.ratePerSecond > 0) || !(policy.burst >= 1) || !(n >= 1))
    throw new RangeError('rate > 0, burst >= 1 and n >= 1 are required');
  const interval = 1000 / policy.ratePerSecond; // ms per token
  const tolerance = policy.burst * interval; // how far tat may run ahead of now
  const doc = await rateLimitsCollection(db).findOneAndUpdate(
    { _id: key },
    [
      // A bucket idle long enough is full: its tat is never in the past.
      { $set: { now: '$$NOW', _from: { $max: [{ $ifNull: ['$tat', '$$NOW'] }, '$$NOW'] } } },
      { $set: { _to: { $add: ['$_from', n * interval] } } },
      { $set: { ok: { $lte: [{ $subtract: ['$_to', '$$NOW'] }, tolerance] } } },
      { $set: { tat: { $cond: ['$ok', '$_to', '$_from'] } } },
      { $unset: ['_from', '_to'] },
    ],
    { upsert: true, returnDocument: 'after' },
  );
  if (!doc) throw new Error(`rate limit ${key}: no document after upsert`);
  const ahead = doc.tat.getTime() - doc.now.getTime(); // ms of tokens already committed
  return {
    allowed: doc.ok,
    remaining: doc.ok ? Math.max(0, Math.floor((tolerance - ahead) / interval)) : 0,
    retryAfterMs: doc.ok ? 0 : Math.max(0, Math.ceil(ahead + n * interval - tolerance)),
    resetMs: Math.max(0, Math.ceil(ahead)),
  };
}
