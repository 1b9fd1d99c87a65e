// Group commit of partner intake, on the real mongod: requests submitted together share one
// transaction, and each still gets its own answer — a duplicate key or a reused key with another
// body fails only its own request, never its batch.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loanRequestInput } from '../../lib/domain/intake/schemas.js';
import { loanRequestIntake } from '../../lib/domain/intake/submit.js';
import type { PartnerPrincipal } from '../../lib/domain/partners/types.js';
import { fixture } from '../helpers/fixture.js';
import { loanRequest } from '../helpers/partners.js';

const f = fixture('intake-group-commit');
const partner: PartnerPrincipal = { partnerId: 'p-group', keyId: 'k-1', name: 'Group Broker', rateLimitPerSecond: 1000 };
const request = (over: Record<string, unknown> = {}) => loanRequestInput.parse(loanRequest(over));

test('40 requests submitted together commit in one transaction; duplicates are answered one by one', async () => {
  const intake = loanRequestIntake(f.t.ctx, { maxBatch: 64, concurrency: 1 });
  const unique = Array.from({ length: 30 }, () => request());
  const sameBody = unique.slice(0, 6); // replays of the first six, same bodies
  const otherBody = unique.slice(6, 10).map((r) => ({ ...r, amount: r.amount + 1 })); // same loanId, another body

  const settled = await Promise.allSettled(
    [...unique, ...sameBody, ...otherBody].map((r) => intake.submit(partner, r, undefined, 'req-1')),
  );

  assert.equal(intake.batches.count, 1, 'all 40 requests, submitted in one turn, formed one batch');
  const firsts = settled.slice(0, 30);
  const ids = firsts.map((s) =>
    s.status === 'fulfilled' && !s.value.replayed ? s.value.id : assert.fail(`first request: ${String(s.status)}`),
  );
  settled.slice(30, 36).forEach((s, i) => {
    assert.equal(s.status, 'fulfilled');
    assert.deepEqual(s.status === 'fulfilled' && s.value, { id: ids[i], replayed: true }, 'a replay answers the first request');
  });
  for (const s of settled.slice(36)) {
    assert.equal(s.status, 'rejected');
    assert.equal(s.status === 'rejected' && (s.reason as { status?: number }).status, 422, 'another body under a taken key is 422');
  }

  const stored = await f.t.c.applications.find({ 'intake.partnerId': partner.partnerId }).toArray();
  assert.equal(stored.length, 30, 'one application per key');
  assert.deepEqual(new Set(stored.map((a) => a._id)), new Set(ids));
  assert.ok(stored.every((a) => a.status === 'scoring' && a.version === 1));
  const events = await f.t.ctx.db
    .collection('events')
    .countDocuments({ 'payload.applicationId': { $in: ids }, type: 'approval.requested' });
  assert.equal(events, 30, 'each application has its outbox event');
  assert.equal(await f.t.c.audit.countDocuments({ entityId: { $in: ids }, action: 'create' }), 30, 'each has its audit entry');
});

test('a key already stored fails only its own request in a batch of new ones', async () => {
  const intake = loanRequestIntake(f.t.ctx, { maxBatch: 64, concurrency: 1 });
  const first = request();
  const earlier = await intake.submit(partner, first, undefined, undefined);
  const fresh = Array.from({ length: 5 }, () => request());
  const answers = await Promise.all([first, ...fresh, first].map((r) => intake.submit(partner, r, undefined, undefined)));
  assert.deepEqual(answers[0], { id: earlier.id, replayed: true });
  assert.deepEqual(answers[6], { id: earlier.id, replayed: true });
  assert.ok(answers.slice(1, 6).every((a) => !a.replayed));
  assert.equal(
    await f.t.c.applications.countDocuments({ 'intake.partnerId': partner.partnerId, _id: { $in: answers.map((a) => a.id) } }),
    6,
  );
});

test('with every commit slot busy, requests queue and form the next batch', async () => {
  const intake = loanRequestIntake(f.t.ctx, { maxBatch: 8, concurrency: 1 });
  const answers = await Promise.all(Array.from({ length: 20 }, () => intake.submit(partner, request(), undefined, undefined)));
  assert.equal(new Set(answers.map((a) => a.id)).size, 20);
  assert.equal(intake.batches.count, 3, '20 requests in batches of at most 8');
  assert.equal(intake.batches.items, 20);
});
