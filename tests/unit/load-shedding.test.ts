// The load shedder's pure parts: nginx's X-Request-Start stamp parsed in its three usual units
// (a wrong clock or a forged stamp is ignored, never shed on), and the verification semaphore
// (slots, a bounded queue, refusal when full or when the wait runs out, slots handed on in order).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Semaphore } from '../../lib/limits/semaphore.js';
import { queueTimeMs } from '../../server/middleware/load-shedding.js';

test('queue time from X-Request-Start: seconds (nginx $msec), milliseconds, microseconds; junk and absurd stamps ignored', () => {
  const now = 1_800_000_000_000;
  assert.equal(queueTimeMs('t=1799999999.750', now), 250);
  assert.equal(queueTimeMs('1799999999.750', now), 250);
  assert.equal(queueTimeMs('t=1799999998000', now), 2000);
  assert.equal(queueTimeMs('t=1799999997000000', now), 3000);
  assert.equal(queueTimeMs('t=1800000005.000', now), 0, 'a stamp ahead of our clock is no wait');
  assert.equal(queueTimeMs(`t=${(now - 10 * 60_000) / 1000}`, now), undefined, 'ten minutes: a wrong clock, ignored');
  for (const junk of [undefined, '', 't=', 't=abc', 't=1e12', 't=-5', ['t=1799999999']])
    assert.equal(queueTimeMs(junk as string | string[] | undefined, now), undefined, String(junk));
});

test('semaphore: max holders, a bounded queue served in order, refusal when full, release idempotent', async () => {
  const s = new Semaphore({ max: 2, queueMax: 1, waitMs: 60_000 });
  const a = await s.acquire();
  const b = await s.acquire();
  assert.ok(a && b);
  const queued = s.acquire();
  assert.equal(await s.acquire(), undefined, 'both slots taken and the queue full: refused at once');
  assert.deepEqual(s.stats(), { active: 2, waiting: 1 });
  a();
  a(); // a second call gives nothing back
  const c = await queued;
  assert.ok(c, 'the waiter got the released slot');
  assert.deepEqual(s.stats(), { active: 2, waiting: 0 });
  b();
  c();
  assert.deepEqual(s.stats(), { active: 0, waiting: 0 });
});

test('semaphore: a waiter whose wait runs out is refused and leaves the queue', async () => {
  const s = new Semaphore({ max: 1, queueMax: 5, waitMs: 0 });
  const a = await s.acquire();
  assert.ok(a);
  assert.equal(await s.acquire(), undefined);
  assert.deepEqual(s.stats(), { active: 1, waiting: 0 });
  a();
  assert.deepEqual(s.stats(), { active: 0, waiting: 0 });
});
