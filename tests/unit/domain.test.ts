import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEnv, serverSchema, ConfigError } from '../../lib/config.js';
import { diff } from '../../lib/domain/audit.js';
import { setPaths, sortSpec } from '../../lib/domain/applications/repository.js';
import { updateApplicationInput } from '../../lib/domain/applications/schemas.js';
import { canTransition, STATUSES } from '../../lib/domain/applications/status.js';
import { newTrackingId, TRACKING_ID_PATTERN } from '../../lib/domain/applications/tracking-id.js';

test('status machine: reviewers move submitted → under_review → approved | rejected, never skip to disbursed', () => {
  assert.ok(canTransition('submitted', 'under_review', 'manual'));
  assert.ok(canTransition('under_review', 'approved', 'manual'));
  assert.ok(canTransition('under_review', 'rejected', 'manual'));
  assert.ok(!canTransition('submitted', 'disbursed', 'manual'));
  assert.ok(!canTransition('approved', 'disbursing', 'manual'), 'paying out is the pipeline’s job');
  assert.ok(canTransition('approved', 'disbursing', 'system'));
  for (const s of ['rejected', 'disbursed'] as const)
    for (const to of STATUSES) assert.ok(!canTransition(s, to, 'system'), `${s} is terminal`);
});

test('tracking ids are LOAN- ULIDs that sort by creation time', () => {
  const a = newTrackingId(1_700_000_000_000);
  const b = newTrackingId(1_700_000_000_001);
  assert.match(a, TRACKING_ID_PATTERN);
  assert.ok(a < b);
  assert.notEqual(newTrackingId(5), newTrackingId(5));
});

test('audit diff lists only fields that changed, old → new', () => {
  assert.deepEqual(diff({ amount: 1, purpose: 'x', applicant: { age: 30 } }, { amount: 2, purpose: 'x', applicant: { age: 31 } }), {
    amount: { from: 1, to: 2 },
    applicant: { from: { age: 30 }, to: { age: 31 } },
  });
});

test('a partial applicant becomes dotted $set paths', () => {
  assert.deepEqual(setPaths({ applicant: { age: 40 }, amount: 5 }), { 'applicant.age': 40, amount: 5 });
});

test('sort specs always end on _id in the same direction', () => {
  assert.deepEqual(sortSpec('-amount'), { amount: -1, _id: -1 });
  assert.deepEqual(sortSpec('createdAt'), { createdAt: 1, _id: 1 });
});

test('update schema rejects operators, unknown keys and protected fields', () => {
  for (const bad of [
    { version: 1, $set: {} },
    { version: { $gt: 0 } },
    { version: 1, version2: 1 },
    { version: 1, createdAt: 'x' },
    { version: 1, applicant: { ssn: '1' } },
  ]) {
    assert.equal(updateApplicationInput.safeParse(bad).success, false, JSON.stringify(bad));
  }
  assert.equal(updateApplicationInput.safeParse({ version: 3, applicant: { age: 30 }, status: 'approved' }).success, true);
});

test('config: every problem is reported with its variable name', () => {
  assert.throws(
    () => parseEnv(serverSchema, { MONGO_URI: 'postgres://x', PORT: '99999', SESSION_SECRETS: 'a'.repeat(32) }),
    (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /MONGO_URI/);
      assert.match(e.message, /PORT/);
      return true;
    },
  );
  assert.throws(() => parseEnv(serverSchema, { MONGO_URI: 'mongodb://x' }), /SESSION_SECRETS is required/);
  const ok = parseEnv(serverSchema, { MONGO_URI: 'mongodb://x', SESSION_SECRETS: `${'a'.repeat(32)}, ${'b'.repeat(40)}` });
  assert.equal(ok.SESSION_SECRETS.length, 2);
  assert.equal(ok.PORT, 3000);
});
