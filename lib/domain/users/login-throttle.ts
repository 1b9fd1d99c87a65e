// Login throttling in MongoDB (collection login_attempts), so every instance enforces the same
// limits. Each attempt reserves before the password is verified — one atomic findOneAndUpdate per
// counter, so N concurrent guesses cannot all pass a "fewer than the limit" check — and the
// reservation is then either kept (a failure) or released (a success). Three counters:
//  - `pair:<email> <address>`: failures (+ verifications in flight) of one account from one client
//    address, with a progressive delay after each failure; a stranger guessing from address A
//    therefore never locks the account for its owner at address B.
//  - `ip:<address>`: failures (+ in flight) from one address across all accounts.
//  - `inflight:<email>`: verifications of one account running right now, on any instance.
// Every counter expires with its window (TTL index on expiresAt); an attempt whose process died
// mid-verification stays counted as a failure until then (the in-flight slot after its lease).
import type { Collections } from '../collections.js';
import { tooManyRequests } from '../../errors.js';
import type { LoginAttemptDoc } from './types.js';

export interface ThrottleLimits {
  /** Fixed window of the failure counters. */
  windowMs: number;
  /** Failures of one account from one client address per window. */
  perAccount: number;
  /** Failures from one client address (all accounts) per window. */
  perIp: number;
  /** Verifications of one account running at once, across instances. */
  inflightPerAccount: number;
  /** After the n-th failure of a pair, the next attempt waits delayBaseMs × 2^(n-1) (capped). */
  delayBaseMs: number;
  delayCapMs: number;
}

/** What a granted attempt holds; give it back with `recordLoginFailure` or `recordLoginSuccess`. */
export interface LoginReservation {
  pair: string;
  ip: string;
  inflight: string;
}

/** Leases of in-flight slots: a verification takes well under a second; a dead process frees its slot after this. */
const INFLIGHT_LEASE_MS = 60_000;

export const throttleKeys = (email: string, ip: string): LoginReservation => {
  const e = email.toLowerCase();
  return { pair: `pair:${e} ${ip}`, ip: `ip:${ip}`, inflight: `inflight:${e}` };
};

/** `$expiresAt` missing or past: the window starts over. */
const expired = { $or: [{ $eq: [{ $type: '$expiresAt' }, 'missing'] }, { $lte: ['$expiresAt', '$$NOW'] }] };
const orZero = (f: string) => ({ $cond: [expired, 0, { $ifNull: [f, 0] }] });

/**
 * One atomic step on counter `_id`: start a new window when the old one is over, then take a slot
 * when `failures + inflight < limit` (and, with `delay`, the pair's delay has passed). Returns the
 * counter after the step; `granted` says whether this call took the slot.
 */
async function take(c: Collections, _id: string, limit: number, windowMs: number, delay: boolean): Promise<LoginAttemptDoc> {
  const failures = orZero('$failures');
  const inflight = orZero('$inflight');
  const notBefore = { $cond: [expired, null, { $ifNull: ['$notBefore', null] }] };
  const waitOver = delay ? { $or: [{ $eq: [notBefore, null] }, { $lte: [notBefore, '$$NOW'] }] } : true;
  const granted = { $and: [{ $lt: [{ $add: [failures, inflight] }, limit] }, waitOver] };
  const doc = await c.loginAttempts.findOneAndUpdate(
    { _id },
    [
      {
        $set: {
          granted,
          failures,
          notBefore,
          inflight: { $cond: [granted, { $add: [inflight, 1] }, inflight] },
          windowStart: { $cond: [expired, '$$NOW', '$windowStart'] },
          expiresAt: { $cond: [expired, { $add: ['$$NOW', windowMs] }, '$expiresAt'] },
        },
      },
    ],
    { upsert: true, returnDocument: 'after' },
  );
  if (!doc) throw new Error(`login throttle: no counter ${_id} after upsert`);
  return doc;
}

const release = (c: Collections, _id: string) => c.loginAttempts.updateOne({ _id, inflight: { $gt: 0 } }, { $inc: { inflight: -1 } });
const secondsUntil = (d: Date | null | undefined) => Math.max(1, Math.ceil(((d?.getTime() ?? 0) - Date.now()) / 1000));
const refused = (retryAt: Date | null | undefined) => tooManyRequests('too many failed logins; try again later', secondsUntil(retryAt));

/**
 * Reserves one verification for (email, address) or throws 429: the address's own limit, the
 * pair's limit and progressive delay, then the account's in-flight cap, each taken atomically; a
 * refusal gives back what was already taken.
 */
export async function reserveLoginAttempt(c: Collections, email: string, ip: string, l: ThrottleLimits): Promise<LoginReservation> {
  const k = throttleKeys(email, ip);
  const byIp = await take(c, k.ip, l.perIp, l.windowMs, false);
  if (!byIp.granted) throw refused(byIp.expiresAt);
  const pair = await take(c, k.pair, l.perAccount, l.windowMs, true);
  if (!pair.granted) {
    await release(c, k.ip);
    const over = pair.failures + pair.inflight >= l.perAccount;
    throw refused(over ? pair.expiresAt : pair.notBefore);
  }
  const busy = await take(c, k.inflight, l.inflightPerAccount, INFLIGHT_LEASE_MS, false);
  if (!busy.granted) {
    await Promise.all([release(c, k.ip), release(c, k.pair)]);
    throw tooManyRequests('another login for this account is being checked; try again in a moment', 1);
  }
  return k;
}

/** A failed verification: its reservations become failures; the pair's next attempt waits longer. */
export async function recordLoginFailure(c: Collections, r: LoginReservation, l: ThrottleLimits): Promise<void> {
  const delay = { $min: [l.delayCapMs, { $multiply: [l.delayBaseMs, { $pow: [2, { $subtract: ['$failures', 1] }] }] }] };
  await Promise.all([
    c.loginAttempts.updateOne({ _id: r.ip, inflight: { $gt: 0 } }, { $inc: { inflight: -1, failures: 1 } }),
    c.loginAttempts.updateOne({ _id: r.pair, inflight: { $gt: 0 } }, [
      { $set: { inflight: { $subtract: ['$inflight', 1] }, failures: { $add: ['$failures', 1] } } },
      { $set: { notBefore: { $add: ['$$NOW', delay] } } },
    ]),
    release(c, r.inflight),
  ]);
}

/** A successful login: the pair starts over, the address's reservation and the in-flight slot are given back. */
export async function recordLoginSuccess(c: Collections, r: LoginReservation): Promise<void> {
  await Promise.all([c.loginAttempts.deleteOne({ _id: r.pair }), release(c, r.ip), release(c, r.inflight)]);
}
