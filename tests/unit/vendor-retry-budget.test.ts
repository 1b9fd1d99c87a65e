// The vendor wrapper's pure parts: the retry budget (retries ≤ minRetries + ratio × calls over a
// sliding window), full-jitter backoff, and Retry-After parsing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fullJitterDelay, retryAfterMs } from '../../lib/vendors/call-vendor.js';
import { RetryBudget } from '../../lib/vendors/retry-budget.js';

test('retries never exceed minRetries + ratio × calls in the window, and the window slides', () => {
  let now = 1_000_000;
  const b = new RetryBudget({ ratio: 0.2, minRetries: 1, windowMs: 10_000 }, () => now);
  for (let i = 0; i < 10; i++) b.onCall();
  // 1 + 0.2 × 10 = 3 retries.
  assert.deepEqual([b.tryRetry(), b.tryRetry(), b.tryRetry(), b.tryRetry()], [true, true, true, false]);
  assert.deepEqual(
    { ...b.snapshot() },
    { ratio: 0.2, minRetries: 1, windowCalls: 10, windowRetries: 3, available: 0, callsTotal: 10, retriesTotal: 3, retriesDeniedTotal: 1 },
  );
  now += 5_000;
  for (let i = 0; i < 5; i++) b.onCall();
  assert.equal(b.tryRetry(), true, '15 calls allow 4 retries');
  assert.equal(b.tryRetry(), false);
  now += 6_000; // the first 10 calls and 3 retries left the window
  assert.equal(b.snapshot().windowCalls, 5);
  assert.equal(b.snapshot().windowRetries, 1);
  assert.equal(b.tryRetry(), true, '1 + 0.2 × 5 = 2 allowed, 1 used');
  assert.equal(b.tryRetry(), false);
  assert.equal(b.retriesTotal, 5);
  assert.equal(b.callsTotal, 15);
});

test('full jitter is uniform over [0, min(cap, base × 2^(n−1)))', () => {
  const backoff = { baseMs: 100, capMs: 1000 };
  assert.deepEqual(
    [1, 2, 3, 4, 5, 9].map((n) => fullJitterDelay(n, backoff, () => 0.999999)),
    [99, 199, 399, 799, 999, 999],
  );
  assert.equal(
    fullJitterDelay(3, backoff, () => 0),
    0,
  );
  assert.equal(
    fullJitterDelay(3, backoff, () => 0.5),
    200,
  );
});

test('Retry-After in seconds or as an HTTP date', () => {
  assert.equal(retryAfterMs('3'), 3000);
  assert.equal(retryAfterMs(null), undefined);
  assert.equal(retryAfterMs('soon'), undefined);
  const now = Date.parse('2026-11-21T12:00:00Z');
  assert.equal(retryAfterMs('Sat, 21 Nov 2026 12:00:05 GMT', now), 5000);
  assert.equal(retryAfterMs('Sat, 21 Nov 2026 11:00:00 GMT', now), 0);
});
