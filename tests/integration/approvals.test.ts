// Money and decisions: frozen terms, the approved-terms snapshot, four-eyes and dual approval
// (PUT, batch-update and the approval worker).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { changeApplication, updateApplication } from '../../lib/domain/applications/commands.js';
import type { ApplicationDoc } from '../../lib/domain/applications/types.js';
import { decideApproval } from '../../lib/domain/pipeline/decide-approval.js';
import { WORKER_ACTORS } from '../../lib/domain/pipeline/events.js';
import { fakeApplication } from '../../scripts/seed.js';
import { fixture } from '../helpers/fixture.js';
import type { Client } from '../helpers/http.js';

// The API's default DUAL_APPROVAL_ABOVE is 100,000.
const BIG = 150_000;
const f = fixture('approvals', { api: true });
let maker: Client;
let checker: Client;
let third: Client;

f.before(async () => {
  [maker, checker, third] = await Promise.all([f.client('reviewer'), f.client('reviewer'), f.client('reviewer')]);
});

const doc = async (id: string) => (await f.t.c.applications.findOne({ _id: id }))!;
const disbursementEvents = (id: string) =>
  f.t.mongo.db.collection('events').countDocuments({ type: 'disbursement.requested', 'payload.applicationId': id });

/** Created by `maker` and moved to under_review by `maker`. */
async function underReview(over: Record<string, unknown> = {}): Promise<string> {
  const a = await maker.create(over);
  assert.equal((await maker.put(`/api/applications/${a.id}`, { version: 1, status: 'under_review' })).status, 200);
  return a.id;
}

describe('frozen terms', () => {
  test('amount, income, creditScore and the applicant cannot change after submitted/under_review (422 naming them)', async () => {
    const id = await underReview();
    const ok = await maker.put(`/api/applications/${id}`, { version: 2, amount: 26_000 });
    assert.equal(ok.status, 200, 'still editable while under review');
    assert.equal((await checker.put(`/api/applications/${id}`, { version: 3, status: 'approved' })).status, 200);
    for (const change of [{ amount: 90_000 }, { income: 1 }, { creditScore: 850 }, { applicant: { name: 'Mallory' } }]) {
      const r = await checker.put(`/api/applications/${id}`, { version: 4, ...change });
      assert.equal(r.status, 422, JSON.stringify(r.body));
      assert.equal(r.body.type, 'https://creditdesk.dev/problems/terms_frozen');
      assert.deepEqual(r.body.frozen, Object.keys(change));
    }
    const both = await checker.put(`/api/applications/${id}`, { version: 4, amount: 1, income: 2, purpose: 'x' });
    assert.deepEqual(both.body.frozen, ['amount', 'income']);
    const after = await doc(id);
    assert.equal(after.amount, 26_000);
    assert.equal(after.version, 4);
  });

  test('no other path changes them either (a system change is refused the same way)', async () => {
    const id = await underReview();
    await checker.put(`/api/applications/${id}`, { version: 2, status: 'approved' });
    await assert.rejects(
      changeApplication(f.t.ctx, await doc(id), { amount: 1_000_000 }, { actor: WORKER_ACTORS.disbursement }, 'system'),
      (e: Error & { status?: number }) => e.status === 422,
    );
    assert.equal((await doc(id)).amount, 25_000);
  });

  test('approval snapshots the terms the disbursement pays', async () => {
    const id = await underReview({ amount: 31_000 });
    const r = await checker.put(`/api/applications/${id}`, { version: 2, status: 'approved' });
    assert.equal(r.status, 200);
    const { terms } = await doc(id);
    assert.ok(terms);
    assert.equal(terms.amount, 31_000);
    assert.equal(terms.currency, 'USD');
    assert.equal(terms.approvedBy.email, checker.email);
    assert.ok(terms.approvedAt instanceof Date);
  });
});

describe('four-eyes', () => {
  test('the creator cannot approve their own application (PUT): 403, nothing written or published', async () => {
    const id = await underReview();
    const r = await maker.put(`/api/applications/${id}`, { version: 2, status: 'approved' });
    assert.equal(r.status, 403, JSON.stringify(r.body));
    assert.equal(r.body.type, 'https://creditdesk.dev/problems/four_eyes');
    assert.equal((await doc(id)).status, 'under_review');
    assert.equal(await disbursementEvents(id), 0);
  });

  test('whoever last changed the terms cannot approve them, even in the same request', async () => {
    const id = await underReview();
    assert.equal((await checker.put(`/api/applications/${id}`, { version: 2, amount: 27_000 })).status, 200);
    assert.equal((await checker.put(`/api/applications/${id}`, { version: 3, status: 'approved' })).status, 403);
    assert.equal((await third.put(`/api/applications/${id}`, { version: 3, amount: 28_000, status: 'approved' })).status, 403);
    // a change of something else than the terms does not make you the terms' author
    assert.equal((await third.put(`/api/applications/${id}`, { version: 3, purpose: 'boat' })).status, 200);
    const ok = await third.put(`/api/applications/${id}`, { version: 4, status: 'approved' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.status, 'approved');
  });

  test('above DUAL_APPROVAL_ABOVE: the first approval waits, the same person again is refused, a second person approves and disbursement is published', async () => {
    const id = await underReview({ amount: BIG, income: 500_000 });
    const first = await checker.put(`/api/applications/${id}`, { version: 2, status: 'approved' });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.status, 'awaiting_second_approval');
    assert.equal(await disbursementEvents(id), 0, 'no money moves on one approval');
    assert.equal((await checker.put(`/api/applications/${id}`, { version: 3, status: 'approved' })).status, 403);
    assert.equal((await maker.put(`/api/applications/${id}`, { version: 3, status: 'approved' })).status, 403);
    const other = await underReview();
    assert.equal(
      (await checker.put(`/api/applications/${other}`, { version: 2, status: 'awaiting_second_approval' })).status,
      422,
      'not a manual move',
    );
    const second = await third.put(`/api/applications/${id}`, { version: 3, status: 'approved' });
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.equal(second.body.status, 'approved');
    const d = await doc(id);
    assert.deepEqual(
      d.approvals!.map((a) => a.by.email),
      [checker.email, third.email],
    );
    assert.equal(d.terms!.approvedBy.email, third.email);
    assert.equal(await disbursementEvents(id), 1);
  });

  test('batch-update applies the same rules per item', async () => {
    const own = await underReview();
    const small = await underReview();
    const big = await underReview({ amount: BIG, income: 500_000 });
    const r = await checker.post('/api/applications/batch-update', { applicationIds: [small, big], status: 'approved' });
    assert.equal(r.status, 200);
    const byId = Object.fromEntries(r.body.results.map((x: { id: string }) => [x.id, x]));
    assert.equal(byId[small].result, 'updated');
    assert.equal(byId[small].status, 'approved');
    assert.equal(byId[big].result, 'updated');
    assert.equal(byId[big].status, 'awaiting_second_approval');
    assert.equal(r.body.summary.refused, 0);
    const mine = await maker.post('/api/applications/batch-update', { applicationIds: [own, big], status: 'approved' });
    const mineById = Object.fromEntries(mine.body.results.map((x: { id: string }) => [x.id, x]));
    assert.equal(mineById[own].result, 'refused');
    assert.match(mineById[own].reason, /creator/);
    assert.equal(mineById[big].result, 'refused');
    assert.equal((await doc(own)).status, 'under_review');
    assert.equal((await doc(small)).terms!.amount, 25_000);
    assert.equal((await doc(big)).status, 'awaiting_second_approval');
    assert.equal(await disbursementEvents(small), 1);
    assert.equal(await disbursementEvents(big), 0);
    const again = await checker.post('/api/applications/batch-update', { applicationIds: [big], status: 'approved' });
    assert.equal(again.body.results[0].result, 'refused', 'the first approver cannot give the second approval');
    const done = await third.post('/api/applications/batch-update', { applicationIds: [big], status: 'approved' });
    assert.equal(done.body.results[0].status, 'approved');
    assert.equal(await disbursementEvents(big), 1);
  });

  test("the approval worker's automatic approval above the threshold waits for a person's approval", async () => {
    const policy = { dualApprovalAbove: 100_000 };
    const creator = { id: 'u-creator', email: 'creator@test.local' };
    const scoring = (amount: number): ApplicationDoc => {
      const d = fakeApplication();
      const ocr = {
        documentId: '0123456789abcdef01234567',
        fields: { name: d.applicant.name, income: 1_000_000, idNumber: null },
        mismatches: [],
        text: '',
        readAt: new Date(),
      };
      return { ...d, amount, income: 1_000_000, creditScore: 800, status: 'scoring', ocr, createdBy: creator, termsChangedBy: creator };
    };
    const small = scoring(50_000);
    const big = scoring(BIG);
    await f.t.c.applications.insertMany([small, big]);
    assert.equal((await decideApproval(f.t.ctx, policy, { applicationId: small._id }, {})).outcome, 'approved');
    assert.equal((await decideApproval(f.t.ctx, policy, { applicationId: big._id }, {})).outcome, 'awaiting_second_approval');
    const waiting = await doc(big._id);
    assert.deepEqual(
      waiting.approvals!.map((a) => [a.by.id, a.automatic]),
      [[WORKER_ACTORS.approval.id, true]],
    );
    assert.equal(await disbursementEvents(big._id), 0);
    assert.equal(await disbursementEvents(small._id), 1);
    await assert.rejects(
      updateApplication(f.t.ctx, big._id, waiting.version, { status: 'approved' }, { actor: creator }, policy),
      /creator/,
    );
    const person = { actor: { id: 'u-checker', email: 'checker@test.local' } };
    const approved = await updateApplication(f.t.ctx, big._id, waiting.version, { status: 'approved' }, person, policy);
    assert.equal(approved.status, 'approved');
    assert.equal(approved.terms!.amount, BIG);
    assert.equal(await disbursementEvents(big._id), 1);
  });

  test('documents stored before createdBy existed: the creator and the terms editor come from the audit trail', async () => {
    const policy = { dualApprovalAbove: 100_000 };
    const creator = { id: 'u-old-creator', email: 'old-creator@test.local' };
    const editor = { id: 'u-old-editor', email: 'old-editor@test.local' };
    const legacy = { ...fakeApplication(), status: 'under_review' as const, version: 3 };
    delete legacy.createdBy; // stored before the field existed
    await f.t.c.applications.insertOne(legacy);
    const entry = (actor: typeof creator, action: string, toVersion: number, changes: Record<string, { from: unknown; to: unknown }>) => ({
      entity: 'application' as const,
      entityId: legacy._id,
      action,
      actor,
      at: new Date(Date.now() + toVersion),
      fromVersion: toVersion - 1,
      toVersion,
      changes,
    });
    await f.t.c.audit.insertMany([
      entry(creator, 'create', 1, { amount: { from: null, to: 1 } }),
      entry(editor, 'update', 2, { income: { from: 1, to: 2 } }),
      entry(creator, 'status', 3, { status: { from: 'submitted', to: 'under_review' } }),
    ]);
    for (const who of [creator, editor]) {
      await assert.rejects(updateApplication(f.t.ctx, legacy._id, 3, { status: 'approved' }, { actor: who }, policy), /cannot approve/);
    }
    const ok = await updateApplication(
      f.t.ctx,
      legacy._id,
      3,
      { status: 'approved' },
      { actor: { id: 'u-other', email: 'o@test.local' } },
      policy,
    );
    assert.equal(ok.status, 'approved');
  });
});
