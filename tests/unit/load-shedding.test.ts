// The load shedder's pure parts: nginx's X-Request-Start stamp parsed in its three usual units
// (a wrong clock or a forged stamp is ignored, never shed on), and the verification semaphore
// (slots, a bounded queue, refusal when full or when the wait runs out, slots handed on in order),
// and a sign-in's wait for a slot counted from nginx's stamp.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Request } from 'express';
import { Registry } from 'prom-client';
import { AppError } from '../../lib/errors.js';
import { Semaphore } from '../../lib/limits/semaphore.js';
import { createLogger } from '../../lib/logger.js';
import { loadShedding, queueTimeMs } from '../../server/middleware/load-shedding.js';

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

test('semaphore: a shorter wait for one caller (what is left of its budget); 0 or less = a free slot or nothing', async () => {
  const s = new Semaphore({ max: 1, queueMax: 5, waitMs: 60_000 });
  const a = await s.acquire(-100);
  assert.ok(a, 'a free slot is granted whatever the budget left');
  const refused = s.acquire(0);
  assert.deepEqual(s.stats(), { active: 1, waiting: 0 }, 'no budget left: not queued');
  assert.equal(await refused, undefined);
  // With the configured 60 s this would outlast the test's own time limit.
  assert.equal(await s.acquire(20), undefined, 'refused once its own 20 ms ran out');
  assert.deepEqual(s.stats(), { active: 1, waiting: 0 });
  a();
});

test('a sign-in that waited in front of the instance waits only for the rest of LOGIN_VERIFY_WAIT_MS for a slot', async () => {
  const gate = loadShedding(
    {
      LOAD_SHED_ENABLED: false,
      LOAD_SHED_LAG_MS: 250,
      LOAD_SHED_MIN_OVERLOAD_MS: 1500,
      LOAD_SHED_MIN_IN_FLIGHT: 32,
      LOAD_SHED_QUEUE_MS: 2000,
      LOAD_SHED_RETRY_AFTER_S: 1,
      LOGIN_MAX_CONCURRENT_VERIFICATIONS: 1,
      LOGIN_VERIFY_QUEUE_MAX: 10,
      LOGIN_VERIFY_WAIT_MS: 60_000,
    },
    createLogger({ level: 'silent', name: 'test', instance: 'test' }),
    new Registry(),
  );
  const stamped = (agoMs: number) =>
    ({ headers: { 'x-request-start': `t=${((Date.now() - agoMs) / 1000).toFixed(3)}` } }) as unknown as Request;
  let finish!: () => void;
  let held!: Promise<void>;
  const holding = new Promise<void>((started) => {
    held = gate.verify(stamped(0), () => {
      started();
      return new Promise<void>((r) => (finish = r));
    });
  });
  await holding; // the one slot is taken
  // Queued 61 s ago: nothing left of the 60 s, so refused rather than queued (queued, it would get
  // the slot below); a fresh one waits for the slot and gets it when the first verification ends.
  const stale = gate.verify(stamped(61_000), async () => 'verified although stale').catch((e: unknown) => e);
  const fresh = gate.verify(stamped(0), async () => 'verified');
  finish();
  await held;
  const refusal = await stale;
  assert.ok(refusal instanceof AppError && refusal.status === 503 && refusal.code === 'login_busy', `refused: ${String(refusal)}`);
  assert.equal(await fresh, 'verified');
});
