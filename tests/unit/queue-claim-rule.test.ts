// The claim rule: one findOneAndUpdate for one idle lane or a short backlog, batches for a deep one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { claimMode, NO_ROUND_YET, SHORT_BACKLOG } from '../../lib/queue/claim-rule.js';

test('exactly one idle lane claims singly, whatever the backlog', () => {
  assert.equal(claimMode(1, { asked: 64, found: 64 }), 'single');
  assert.equal(claimMode(1, NO_ROUND_YET), 'single');
});

test('a worker that has not claimed yet starts with a single claim', () => {
  assert.equal(claimMode(64, NO_ROUND_YET), 'single');
});

test('several idle lanes batch after a full round, claim singly after a short one', () => {
  assert.equal(claimMode(8, { asked: 1, found: 1 }), 'batch', 'a single claim that found an event was full');
  assert.equal(claimMode(8, { asked: 1, found: 0 }), 'single');
  assert.equal(claimMode(8, { asked: 64, found: 64 }), 'batch');
  assert.equal(claimMode(8, { asked: 64, found: SHORT_BACKLOG }), 'batch');
  assert.equal(claimMode(8, { asked: 64, found: SHORT_BACKLOG - 1 }), 'single', 'fewer candidates than SHORT_BACKLOG: short');
  assert.equal(claimMode(8, { asked: 2, found: 2 }), 'batch', 'a small batch that got all it asked for was full');
  assert.equal(claimMode(8, { asked: 3, found: 2 }), 'single');
});
