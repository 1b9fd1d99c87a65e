// The autoscaler's decision: processes from the backlog between min and max, straight up to what
// the load needs, down only below the hysteresis band and after the cool-down, one more for a
// stale head of the queue.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Backlog } from '../../lib/queue/backlog.js';
import { decideScale, type ScaleMemory, type ScalePolicy } from '../../scripts/stack/scale-decision.js';

const policy: ScalePolicy = {
  min: 1,
  max: 10,
  jobsPerProcess: 50,
  hysteresis: 0.2,
  upCooldownMs: 5000,
  downCooldownMs: 60_000,
  maxDueAgeMs: 0,
};
const fresh: ScaleMemory = { lastChangeAt: Number.NEGATIVE_INFINITY, lowSince: undefined };
const backlog = (due: number, running = 0, oldestDueAgeMs = 0): Backlog => ({ due, running, oldestDueAgeMs });
const T = 1_000_000;

test("the brief's rule: one process per 50 waiting events, at most 10", () => {
  assert.equal(decideScale(policy, backlog(0), 1, T, fresh).desired, 1);
  assert.equal(decideScale(policy, backlog(50), 1, T, fresh).desired, 1);
  assert.equal(decideScale(policy, backlog(51), 1, T, fresh).desired, 2);
  assert.equal(decideScale(policy, backlog(230), 1, T, fresh).desired, 5, 'straight to what the load needs, not one per poll');
  const capped = decideScale(policy, backlog(100_000), 1, T, fresh);
  assert.equal(capped.desired, 10, 'never above max');
  assert.equal(capped.reason, 'load 100000 needs 2000 at 50 per process, capped at the maximum 10');
});

test('running events count: a burst claimed at once keeps its processes', () => {
  const d = decideScale(policy, backlog(0, 230), 5, T, fresh);
  assert.equal(d.desired, 5);
  assert.equal(d.lowSince, undefined);
});

test('scale-up waits out the cool-down after a change', () => {
  const m = { lastChangeAt: T - 1000, lowSince: undefined };
  const held = decideScale(policy, backlog(300), 2, T, m);
  assert.equal(held.desired, 2);
  assert.match(held.reason, /cool-down/);
  assert.equal(decideScale(policy, backlog(300), 2, T + 4000, m).desired, 6);
});

test('hysteresis: no scale-down while the load is inside the band', () => {
  // 3 processes carry 150 at 50 each; 2 would carry 100 at the target but only 80 with 20 % headroom.
  for (const load of [150, 101, 100, 81]) {
    const d = decideScale(policy, backlog(load), 3, T, fresh);
    assert.equal(d.desired, 3, `load ${load}`);
    assert.equal(d.lowSince, undefined, `load ${load} is not low`);
  }
  assert.equal(decideScale(policy, backlog(80), 3, T, fresh).lowSince, T, 'load 80 fits in 2 with headroom: low from now');
});

test('scale-down only after the load stayed low for the whole cool-down, then to what fits at once', () => {
  let m: ScaleMemory = fresh;
  let d = decideScale(policy, backlog(0), 8, T, m);
  assert.equal(d.desired, 8);
  assert.match(d.reason, /low for 0 s of 60 s/);
  m = { ...m, lowSince: d.lowSince };
  d = decideScale(policy, backlog(10), 8, T + 59_000, m);
  assert.equal(d.desired, 8, 'still inside the cool-down');
  m = { ...m, lowSince: d.lowSince };
  d = decideScale(policy, backlog(10), 8, T + 60_000, m);
  assert.equal(d.desired, 1);
  assert.equal(d.lowSince, undefined, 'a change starts a new window');
});

test('a dip between two bursts retires nothing: a busy poll resets the cool-down', () => {
  const low = decideScale(policy, backlog(0), 4, T, fresh);
  const busy = decideScale(policy, backlog(200), 4, T + 30_000, { lastChangeAt: T - 100_000, lowSince: low.lowSince });
  assert.equal(busy.desired, 4);
  assert.equal(busy.lowSince, undefined);
  const lowAgain = decideScale(policy, backlog(0), 4, T + 61_000, { lastChangeAt: T - 100_000, lowSince: busy.lowSince });
  assert.equal(lowAgain.desired, 4, 'the window restarted at the dip after the burst');
});

test('a stale head adds one process at a time up to max, and holds off scale-down', () => {
  const p = { ...policy, maxDueAgeMs: 30_000 };
  assert.equal(decideScale(p, backlog(5, 0, 31_000), 2, T, fresh).desired, 3);
  assert.equal(decideScale(p, backlog(5, 0, 31_000), 10, T, fresh).desired, 10);
  assert.equal(decideScale(p, backlog(5, 0, 29_000), 2, T, fresh).lowSince, T, 'young enough: an ordinary low load');
  assert.equal(decideScale(p, backlog(5, 0, 31_000), 4, T, fresh).lowSince, undefined);
});

test('outside [min, max] it returns inside at once, whatever the cool-downs', () => {
  const p = { ...policy, min: 2, max: 4 };
  const m = { lastChangeAt: T, lowSince: undefined };
  assert.equal(decideScale(p, backlog(0), 0, T, m).desired, 2);
  assert.equal(decideScale(p, backlog(0), 6, T, m).desired, 4);
  assert.equal(decideScale(p, backlog(0), 2, T + 1e9, { lastChangeAt: T, lowSince: T }).desired, 2, 'never below min');
});
