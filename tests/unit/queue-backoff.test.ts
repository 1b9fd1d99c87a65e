import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay } from '../../lib/queue/backoff.js';

const opts = { baseMs: 100, factor: 2, capMs: 1000 };

test('backoff grows base·factor^(attempt−1) and stops at the cap', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 50].map((a) => backoffDelay(a, opts)),
    [100, 200, 400, 800, 1000, 1000, 1000],
  );
});

test('attempt below 1 is treated as the first; a huge attempt does not overflow', () => {
  assert.equal(backoffDelay(0, opts), 100);
  assert.equal(backoffDelay(10_000, { ...opts, factor: 10 }), 1000);
});

test('jitter spreads the delay over [d(1−j), d(1+j)] and never above the cap', () => {
  const j = { ...opts, jitter: 0.5 };
  assert.equal(
    backoffDelay(2, j, () => 0),
    100,
  );
  assert.equal(
    backoffDelay(2, j, () => 1),
    300,
  );
  assert.equal(
    backoffDelay(2, j, () => 0.5),
    200,
  );
  assert.equal(
    backoffDelay(5, j, () => 1),
    1000,
  );
  for (let i = 0; i < 200; i++) {
    const d = backoffDelay(3, j);
    assert.ok(d >= 200 && d <= 600, String(d));
  }
});
