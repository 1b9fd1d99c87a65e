// The reconciler repairs each kind of stuck application without double effects. Each case is planted
// (an application left in a status for an hour, with the facts of the failure it stands for), then
// a real worker process (approval + disbursement roles, whose disbursement role runs the
// reconciler) and the payment-gateway simulator do the rest:
//   - lost event: scoring, no approval event → re-published with the hook's dedupe key, decided once;
//   - live event: scoring with a pending (future) approval event → left alone (waiting);
//   - worker killed after the gateway paid, before the ledger write: disbursing + a payment at the
//     gateway, no ledger → finished from the gateway's record: one payment (one request), one entry;
//   - disbursing, nothing paid, no event → re-driven: the worker pays once, one ledger entry;
//   - approved, its disbursement event lost → re-published with the hook's key, paid once;
//   - bureau_pending, the callback never came → needs_review with the reason;
//   - disbursing, the gateway paid another amount → needs_review, nothing recorded.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ObjectId } from 'mongodb';
import { Registry } from 'prom-client';
import { createApplication } from '../../lib/domain/applications/commands.js';
import { createApplicationInput } from '../../lib/domain/applications/schemas.js';
import type { ApplicationDoc } from '../../lib/domain/applications/types.js';
import { cachedStuckCounts, registerReconcileMetrics } from '../../lib/domain/pipeline/reconcile-metrics.js';
import { eventsCollection, publish } from '../../lib/queue/index.js';
import type { Gateway } from '../helpers/app-processes.js';
import { fixture } from '../helpers/fixture.js';
import type { Client } from '../helpers/http.js';
import { sampleApplication } from '../helpers/samples.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('reconciler', { api: true });
let gw: Gateway;
let admin: Client;
const meta = { actor: { id: 'u1', email: 'reviewer@test.local' } };
const HOUR_AGO = () => new Date(Date.now() - 3_600_000);

f.before(async () => {
  gw = await f.gateway();
  admin = await f.client('admin');
});

/** An application left in `status` for an hour (createApplication, then the planted state). */
async function plant(status: ApplicationDoc['status'], extra: Partial<ApplicationDoc> = {}, amount = 25_000): Promise<ApplicationDoc> {
  const a = await createApplication(f.t.ctx, createApplicationInput.parse(sampleApplication({ amount })), meta);
  return (await f.t.c.applications.findOneAndUpdate(
    { _id: a._id },
    { $set: { status, updatedAt: HOUR_AGO(), ...extra } },
    { returnDocument: 'after' },
  ))!;
}
const terms = (amount: number) => ({
  amount,
  currency: 'USD',
  approvedAt: HOUR_AGO(),
  approvedBy: { id: 'u2', email: 'approver@test.local' },
});
/** The state a disbursement worker leaves behind when it dies after stamping its fence. */
const disbursing = (amount: number) => ({
  terms: terms(amount),
  disbursement: { fence: 0, eventId: new ObjectId().toHexString(), startedAt: HOUR_AGO() },
});
const app = async (id: string) => (await f.t.c.applications.findOne({ _id: id }))!;
const audits = (id: string, action: string) => f.t.c.audit.countDocuments({ entityId: id, action });
const eventsOf = (id: string, type: string) => eventsCollection(f.t.mongo.db).find({ type, 'payload.applicationId': id }).toArray();
const runs = () => f.t.c.reconciliationRuns.countDocuments();

describe('reconciler', () => {
  test('repairs a lost event, a paid-but-unrecorded and an unpaid disbursement, escalates what it cannot re-drive; no double effects', async () => {
    const lost = await plant('scoring');
    const live = await plant('scoring');
    const liveEvent = await publish(
      f.t.mongo.db,
      'approval.requested',
      { applicationId: live._id },
      {
        dedupeKey: `approval:${live._id}:v${live.version}`,
        runAt: new Date(Date.now() + 3_600_000),
      },
    );
    const paid = await plant('disbursing', disbursing(25_000));
    const planted = await gw.pay(`disbursement:${paid._id}`, paid._id, 25_000, 'USD');
    const unpaid = await plant('disbursing', disbursing(30_000), 30_000);
    const lostApproved = await plant('approved', { terms: terms(20_000) }, 20_000);
    const bureau = await plant('bureau_pending');
    const wrongAmount = await plant('disbursing', disbursing(40_000), 40_000);
    await gw.pay(`disbursement:${wrongAmount._id}`, wrongAmount._id, 39_000, 'USD');
    const before = await gw.stats();

    // The worker's stuck-applications gauge, counted from the same thresholds.
    const registry = new Registry();
    const thresholds = { ocr_pending: 600, scoring: 300, bureau_pending: 1800, approved: 900, disbursing: 900 };
    registerReconcileMetrics(registry, cachedStuckCounts(f.t.c, thresholds, 0));
    const text = await registry.metrics();
    for (const [status, n] of Object.entries({ ocr_pending: 0, scoring: 2, bureau_pending: 1, approved: 1, disbursing: 3 }))
      assert.match(text, new RegExp(`reconcile_stuck_applications\\{status="${status}"\\} ${n}\\n`), text);

    await f.worker('approval,disbursement', {
      PAYMENT_GATEWAY_URL: gw.url,
      RECONCILE_THRESHOLDS: 'ocr_pending=600,scoring=300,bureau_pending=1800,approved=900,disbursing=900',
      RECONCILE_INTERVAL_MS: '200',
      RECONCILE_LEASE_MS: '2000',
    });
    await waitFor(
      'every planted application to be repaired or escalated',
      async () =>
        (await app(lost._id)).status !== 'scoring' &&
        (await app(paid._id)).status === 'disbursed' &&
        (await app(unpaid._id)).status === 'disbursed' &&
        (await app(lostApproved._id)).status === 'disbursed' &&
        (await app(bureau._id)).status === 'needs_review' &&
        (await app(wrongAmount._id)).status === 'needs_review',
      { died: f.procs.died },
    );
    // More runs over the repaired state change nothing.
    const n = await runs();
    await waitFor('three more reconciliation runs', async () => (await runs()) >= n + 3, { died: f.procs.died });

    // Lost event: re-published once, with the key the pipeline hook would have used, and decided.
    assert.equal(await audits(lost._id, 'reconcile.redrive'), 1);
    const approvals = await eventsOf(lost._id, 'approval.requested');
    assert.deepEqual(
      approvals.map((e) => [e.dedupeKey, e.state]),
      [[`approval:${lost._id}:v${lost.version}`, 'completed']],
    );
    assert.notEqual((await app(lost._id)).risk, undefined, 'the approval stage ran');

    // Live event: left alone.
    assert.equal((await app(live._id)).status, 'scoring');
    assert.equal(await audits(live._id, 'reconcile.redrive'), 0);
    assert.deepEqual(
      (await eventsOf(live._id, 'approval.requested')).map((e) => e._id.toHexString()),
      [liveEvent.id.toHexString()],
    );

    // Paid but unrecorded: finished from the gateway's record, without asking it to pay again.
    const paidPayments = (await gw.payments()).filter((p) => p.key === `disbursement:${paid._id}`);
    assert.equal(paidPayments.length, 1);
    assert.equal(paidPayments[0]!.requests, 1, 'the reconciler never sent the payment again');
    assert.equal(await f.t.c.ledger.countDocuments({ applicationId: paid._id }), 1);
    assert.equal((await f.t.c.ledger.findOne({ applicationId: paid._id }))!.paymentRef, planted.paymentId);
    assert.equal((await app(paid._id)).disbursement!.paymentRef, planted.paymentId);
    assert.equal(await audits(paid._id, 'reconcile.finish'), 1);
    assert.equal((await eventsOf(paid._id, 'disbursement.requested')).length, 0, 'no event was needed');

    // Unpaid, no event: re-driven once, paid once.
    assert.equal(await audits(unpaid._id, 'reconcile.redrive'), 1);
    const unpaidPayments = (await gw.payments()).filter((p) => p.key === `disbursement:${unpaid._id}`);
    assert.equal(unpaidPayments.length, 1);
    assert.equal(unpaidPayments[0]!.amount, 30_000);
    assert.equal(await f.t.c.ledger.countDocuments({ applicationId: unpaid._id }), 1);

    // Approved, its disbursement event lost: re-published with the hook's key, paid once.
    assert.equal(await audits(lostApproved._id, 'reconcile.redrive'), 1);
    assert.deepEqual(
      (await eventsOf(lostApproved._id, 'disbursement.requested')).map((e) => e.dedupeKey),
      [`disbursement:${lostApproved._id}:v${lostApproved.version}`],
    );
    assert.equal((await gw.payments()).filter((p) => p.key === `disbursement:${lostApproved._id}`).length, 1);
    assert.equal(await f.t.c.ledger.countDocuments({ applicationId: lostApproved._id }), 1);

    // Escalations, with their reasons in the audit trail.
    const bureauAudit = await f.t.c.audit.findOne({ entityId: bureau._id, action: 'reconcile.escalate' });
    assert.match(String(bureauAudit?.details?.reason), /bureau_pending/);
    assert.equal(await audits(bureau._id, 'reconcile.escalate'), 1);
    const wrongAudit = await f.t.c.audit.findOne({ entityId: wrongAmount._id, action: 'reconcile.escalate' });
    assert.match(String(wrongAudit?.details?.reason), /paid 39000 USD/);
    assert.equal(await f.t.c.ledger.countDocuments({ applicationId: wrongAmount._id }), 0);
    const statusAudit = await f.t.c.audit.findOne({ entityId: bureau._id, 'changes.status.to': 'needs_review' });
    assert.equal(statusAudit?.actor.id, 'worker:reconciler');

    // The gateway was asked, not told to pay: the reconciler looked payments up by key.
    const after = await gw.stats();
    assert.ok(after.lookups > before.lookups);

    // The admin view: the runs and what they did.
    const r = await admin.get('/api/admin/reconciliation?limit=100');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const body = r.body as { holder: { owner: string } | null; runs: Array<{ steps: Array<{ applicationId: string; action: string }> }> };
    assert.ok(body.holder);
    const steps = body.runs.flatMap((x) => x.steps);
    const did = (id: string, action: string) => steps.some((s) => s.applicationId === id && s.action === action);
    assert.ok(did(lost._id, 'redriven'));
    assert.ok(did(live._id, 'waiting'));
    assert.ok(did(paid._id, 'finished'));
    assert.ok(did(unpaid._id, 'redriven'));
    assert.ok(did(bureau._id, 'escalated'));
    assert.ok(did(wrongAmount._id, 'escalated'));

    const viewer = await f.client('viewer');
    assert.equal((await viewer.get('/api/admin/reconciliation')).status, 403);
    assert.equal((await admin.get('/api/admin/reconciliation?limit=0')).status, 400);
    assert.equal((await admin.get('/api/admin/reconciliation?x=1')).status, 400);
  });
});
