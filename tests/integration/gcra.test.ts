// The shared GCRA bucket (lib/limits/gcra.ts) on the real mongod: all-or-none takes, the burst,
// Retry-After, and atomicity under concurrent takers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rateLimitsCollection, takeTokens } from '../../lib/limits/gcra.js';
import { LeasedLimiter } from '../../lib/limits/leased-limiter.js';
import { fixture } from '../helpers/fixture.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('gcra', {});

test('a full bucket gives its burst, then refuses with a Retry-After of about one token', async () => {
  const db = f.t.mongo.db;
  const policy = { ratePerSecond: 1, burst: 5 }; // 1 token/s: no refill during the test matters
  const first = await takeTokens(db, 'k1', policy, 3);
  assert.equal(first.allowed, true);
  assert.equal(first.remaining, 2);
  assert.equal((await takeTokens(db, 'k1', policy, 3)).allowed, false, 'all or none: 3 of 2 left is refused');
  assert.equal((await takeTokens(db, 'k1', policy, 2)).allowed, true, 'a refusal takes nothing');
  const denied = await takeTokens(db, 'k1', policy, 1);
  assert.equal(denied.allowed, false);
  assert.ok(denied.retryAfterMs > 0 && denied.retryAfterMs <= 1000, `retryAfterMs ${denied.retryAfterMs}`);
  assert.ok(denied.resetMs > 4000 && denied.resetMs <= 5000, `resetMs ${denied.resetMs}`);
  assert.equal((await takeTokens(db, 'k2', policy, 5)).allowed, true, 'keys are independent');
});

test('50 concurrent takers of one token from a burst of 10: exactly 10 succeed', async () => {
  const db = f.t.mongo.db;
  const results = await Promise.all(Array.from({ length: 50 }, () => takeTokens(db, 'k3', { ratePerSecond: 0.01, burst: 10 }, 1)));
  assert.equal(results.filter((r) => r.allowed).length, 10);
});

test('bad policies are refused', async () => {
  await assert.rejects(takeTokens(f.t.mongo.db, 'k4', { ratePerSecond: 0, burst: 1 }), RangeError);
  await assert.rejects(takeTokens(f.t.mongo.db, 'k4', { ratePerSecond: 1, burst: 0 }), RangeError);
});

test('the leased limiter: one bucket round trip per lease, none while over the limit', async () => {
  const limiter = new LeasedLimiter(f.t.mongo.db, { leaseFraction: 0.1, burstLeases: 1, leaseTtlMs: 60_000 });
  // rate 1000/s: a lease of 100 tokens, spent locally
  for (let i = 0; i < 100; i++) assert.equal((await limiter.take('fast', 1000)).allowed, true);
  assert.equal(limiter.bucketReads, 1);
  // rate 0.01/s: a lease of 1 token, then "over limit until T" cached on the instance
  assert.equal((await limiter.take('slow', 0.01)).allowed, true);
  const denied = await limiter.take('slow', 0.01);
  assert.equal(denied.allowed, false);
  assert.ok(denied.retryAfterMs > 1000);
  const reads = limiter.bucketReads;
  for (let i = 0; i < 50; i++) assert.equal((await limiter.take('slow', 0.01)).allowed, false);
  assert.equal(limiter.bucketReads, reads, 'no round trip while over the limit');
});

test('a bucket that is full again is deleted by its TTL index (migration 008): rate_limits does not grow', async () => {
  const db = f.t.mongo.db;
  await takeTokens(db, 'ttl-key', { ratePerSecond: 1000, burst: 1 }, 1); // full again 1 ms later
  const admin = f.t.mongo.client.db('admin');
  const { was } = await admin.command({ setParameter: 1, ttlMonitorSleepSecs: 1 });
  try {
    await waitFor(
      'the TTL monitor to delete the full bucket',
      async () => (await rateLimitsCollection(db).countDocuments({ _id: 'ttl-key' })) === 0,
      {
        timeoutMs: 20_000,
      },
    );
  } finally {
    await admin.command({ setParameter: 1, ttlMonitorSleepSecs: was });
  }
});
