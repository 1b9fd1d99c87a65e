// The payment gateway through the shared vendor wrapper (lib/vendors/call-vendor.ts): an outage
// opens its circuit breaker, disbursement events are rescheduled while it is open (no attempt spent,
// nothing dead-lettered), and after recovery every disbursement completes with exactly one payment
// and one ledger entry. Real processes: the gateway simulator and a disbursement worker.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createApplication, updateApplication } from '../../lib/domain/applications/commands.js';
import { createApplicationInput } from '../../lib/domain/applications/schemas.js';
import { circuitBreakersCollection } from '../../lib/limits/circuit-breaker-store.js';
import { type EventDoc, eventsCollection } from '../../lib/queue/index.js';
import type { Gateway } from '../helpers/app-processes.js';
import { fixture } from '../helpers/fixture.js';
import { sampleApplication } from '../helpers/samples.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('gateway-resilience');
let gw: Gateway;
const meta = { actor: { id: 'u1', email: 'reviewer@test.local' } };
const approver = { actor: { id: 'u2', email: 'approver@test.local' } };
const policy = { dualApprovalAbove: 100_000 };

f.before(async () => {
  gw = await f.gateway();
});

/** A reviewer approves manually: the pipeline hook publishes disbursement.requested. */
async function approved(): Promise<string> {
  const a = await createApplication(f.t.ctx, createApplicationInput.parse(sampleApplication()), meta);
  await updateApplication(f.t.ctx, a._id, 1, { status: 'under_review' }, meta, policy);
  await updateApplication(f.t.ctx, a._id, 2, { status: 'approved' }, approver, policy);
  return a._id;
}

const disbursementEvents = () => eventsCollection(f.t.mongo.db).find({ type: 'disbursement.requested' }).toArray();
const breaker = () => circuitBreakersCollection(f.t.mongo.db).findOne({ _id: 'payment-gateway' });

describe('payment gateway resilience', () => {
  test('an outage opens the breaker; disbursements are rescheduled, none dead-lettered, and complete once after recovery', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await approved());
    await gw.setOutage(true);
    const w = await f.worker('disbursement', {
      PAYMENT_GATEWAY_URL: gw.url,
      WORKER_CONCURRENCY_DISBURSEMENT: '3',
      PAYMENT_TIMEOUT_MS: '2000',
      PAYMENT_MAX_ATTEMPTS: '2',
      PAYMENT_BACKOFF_BASE_MS: '10',
      PAYMENT_BACKOFF_CAP_MS: '50',
      PAYMENT_BREAKER_MIN_CALLS: '4',
      PAYMENT_BREAKER_BUCKET_MS: '1000',
      PAYMENT_BREAKER_COOL_DOWN_MS: '1500',
      PAYMENT_BREAKER_PROBE_LEASE_MS: '5000',
      RECONCILE_ENABLED: 'false',
    });

    await waitFor('the breaker to open', async () => (await breaker())?.state === 'open', { died: f.procs.died });
    // Every event is put back while the breaker is open: wait until each was rescheduled at least once.
    const rescheduled = await waitFor(
      'every disbursement event to be rescheduled',
      async () => {
        const evs = await disbursementEvents();
        return evs.length === ids.length && evs.every((e) => (e.reschedules ?? 0) >= 1) ? evs : null;
      },
      { died: f.procs.died },
    );
    assert.ok(rescheduled.every((e: EventDoc) => e.state !== 'dead'));
    assert.match(rescheduled[0]!.rescheduleReason ?? '', /circuit_open|rate_limited/);
    assert.equal(await f.t.c.ledger.countDocuments({ applicationId: { $in: ids } }), 0, 'nothing recorded during the outage');
    const during = await gw.stats();
    assert.ok(during.unavailable > 0, 'the gateway answered 503s');
    assert.equal(during.payments, 0);

    await gw.setOutage(false);
    await waitFor(
      'every application to be disbursed after recovery',
      async () => (await f.t.c.applications.countDocuments({ _id: { $in: ids }, status: 'disbursed' })) === ids.length,
      { died: f.procs.died, timeoutMs: 90_000 },
    );
    await w.stop();

    const payments = await gw.payments();
    for (const id of ids) {
      const mine = payments.filter((p) => p.key === `disbursement:${id}`);
      assert.equal(mine.length, 1, `one payment for ${id}`);
      assert.equal(await f.t.c.ledger.countDocuments({ applicationId: id }), 1, `one ledger entry for ${id}`);
      const ledger = await f.t.c.ledger.findOne({ applicationId: id });
      assert.equal(ledger!.paymentRef, mine[0]!.paymentId);
    }
    const evs = await disbursementEvents();
    assert.equal(evs.filter((e) => e.state === 'dead').length, 0, 'no event dead-lettered because of the outage');
    // disbursement.requested may be attempted 8 times: waiting for the breaker spent none of them.
    assert.ok(
      evs.every((e) => e.state === 'completed' && e.attempts < 8),
      `attempts: ${evs.map((e) => `${e.state}/${e.attempts}`).join(',')}`,
    );
    const b = await breaker();
    assert.equal(b!.state, 'closed', 'the probe after recovery closed it');
    assert.ok(b!.counts.open >= 1);
  });
});
