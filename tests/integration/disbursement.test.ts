// At most one ledger entry per application, whatever happens: duplicate events, two worker
// processes racing, a worker killed with SIGKILL in the middle of the payment.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createApplication, updateApplication } from '../../lib/domain/applications/commands.js';
import { createApplicationInput } from '../../lib/domain/applications/schemas.js';
import { WORKER_ACTORS } from '../../lib/domain/pipeline/events.js';
import { PermanentError, publish, queueStats } from '../../lib/queue/index.js';
import { httpPaymentGateway } from '../../lib/domain/pipeline/payment-gateway.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Gateway } from '../helpers/app-processes.js';
import { fixture } from '../helpers/fixture.js';
import { sampleApplication } from '../helpers/samples.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('disbursement');
let gw: Gateway;
const meta = { actor: { id: 'u1', email: 'reviewer@test.local' } };
/** A second reviewer: the creator may not approve (four-eyes). */
const approver = { actor: { id: 'u2', email: 'approver@test.local' } };
const policy = { dualApprovalAbove: 100_000 };

f.before(async () => {
  gw = await f.gateway();
});

/** A reviewer approves manually: the afterChange hook publishes disbursement.requested. */
async function approved(extraEvents = 0): Promise<string> {
  const a = await createApplication(f.t.ctx, createApplicationInput.parse(sampleApplication()), meta);
  await updateApplication(f.t.ctx, a._id, 1, { status: 'under_review' }, meta, policy);
  await updateApplication(f.t.ctx, a._id, 2, { status: 'approved' }, approver, policy);
  for (let i = 0; i < extraEvents; i++) await publish(f.t.mongo.db, 'disbursement.requested', { applicationId: a._id });
  return a._id;
}

/** The simulator's payments with the amount each paid (GET /payments). */
async function paid(): Promise<Array<{ key: string; paymentId: string; amount: number; requests: number }>> {
  const r = await fetch(`${gw.url}/payments`);
  return ((await r.json()) as { items: Array<{ key: string; paymentId: string; amount: number; requests: number }> }).items;
}

async function settled(): Promise<boolean> {
  const s = (await queueStats(f.t.mongo.db)).types['disbursement.requested'];
  return !!s && s.pending === 0 && s.processing === 0;
}

async function assertExactlyOnce(id: string) {
  assert.equal(await f.t.c.ledger.countDocuments({ applicationId: id }), 1, `one ledger entry for ${id}`);
  const app = await f.t.c.applications.findOne({ _id: id });
  assert.equal(app!.status, 'disbursed');
  const ledger = await f.t.c.ledger.findOne({ applicationId: id });
  assert.equal(ledger!.fence, app!.disbursement!.fence);
  assert.equal(ledger!.amount, app!.terms!.amount);
  const payments = (await paid()).filter((p) => p.key === `disbursement:${id}`);
  assert.equal(payments.length, 1, 'the gateway paid once');
  assert.equal(payments[0]!.amount, app!.terms!.amount, 'the gateway paid the approved terms');
  assert.equal(ledger!.paymentRef, payments[0]!.paymentId);
  const statuses = (
    await f.t.c.audit
      .find({ entityId: id, 'changes.status': { $exists: true } })
      .sort({ toVersion: 1 })
      .toArray()
  ).map((e) => e.changes.status!.to);
  assert.deepEqual(statuses, ['submitted', 'under_review', 'approved', 'disbursing', 'disbursed']);
}

describe('disbursement', () => {
  test('a manual approval publishes disbursement.requested in its transaction', async () => {
    const id = await approved();
    const ev = await f.t.mongo.db.collection('events').findOne({ type: 'disbursement.requested', 'payload.applicationId': id });
    assert.ok(ev);
    assert.equal(ev.dedupeKey, `disbursement:${id}:v3`);
    await f.t.mongo.db.collection('events').deleteOne({ _id: ev._id });
  });

  test('duplicate disbursement.requested events: one ledger entry, one payment per application', async () => {
    const ids = [await approved(5), await approved(5), await approved(5)];
    const worker = await f.startWorkers({
      WORKER_ROLES: 'disbursement',
      WORKER_CONCURRENCY_DISBURSEMENT: '8',
      PAYMENT_GATEWAY_URL: gw.url,
      PAYMENT_TIMEOUT_MS: '5000',
    });
    try {
      await waitFor('all disbursement events to settle', settled, { died: f.procs.died });
    } finally {
      await worker.stop();
    }
    for (const id of ids) await assertExactlyOnce(id);
    const s = (await queueStats(f.t.mongo.db)).types['disbursement.requested']!;
    assert.equal(s.completed, 18);
    assert.equal(s.dead, 0);
  });

  test('two worker processes racing over duplicated events: exactly one ledger entry each', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push(await approved(3));
    const env = { PAYMENT_GATEWAY_URL: gw.url, WORKER_CONCURRENCY_DISBURSEMENT: '4' };
    const [a, b] = await Promise.all([f.worker('disbursement', env), f.worker('disbursement', env)]);
    try {
      await waitFor('all disbursement events to settle', settled, { died: f.procs.died });
    } finally {
      assert.deepEqual(
        (await Promise.all([a.stop(), b.stop()])).map((e) => e.code),
        [0, 0],
        'both workers exit 0 on SIGTERM',
      );
    }
    for (const id of ids) await assertExactlyOnce(id);
    assert.equal((await queueStats(f.t.mongo.db)).types['disbursement.requested']!.dead, 0);
  });

  test('a worker killed with SIGKILL mid-payment: another takes over with a higher fence; paid once, one ledger entry', async () => {
    await gw.setHold(true); // the gateway records the payment, then holds its answer
    const env = { PAYMENT_GATEWAY_URL: gw.url, WORKER_LEASE_MS: '1500', WORKER_LOCK_TTL_MS: '1500' };
    const first = await f.worker('disbursement', env);
    const id = await approved();
    await waitFor('the payment request to reach the gateway', async () => (await gw.held()) > 0, { died: f.procs.died });
    const stamped = await f.t.c.applications.findOne({ _id: id });
    assert.equal(stamped!.status, 'disbursing');
    await first.kill9();
    await gw.setHold(false);

    const second = await f.worker('disbursement', env);
    try {
      await waitFor('the takeover to finish', async () => (await f.t.c.applications.findOne({ _id: id }))?.status === 'disbursed', {
        died: f.procs.died,
      });
      await waitFor('the event to complete', settled);
    } finally {
      await second.stop();
    }
    await assertExactlyOnce(id);
    const app = await f.t.c.applications.findOne({ _id: id });
    assert.ok(Number(app!.disbursement!.fence) > Number(stamped!.disbursement!.fence), 'the takeover holds a higher fence');
    const payment = (await gw.payments()).find((p) => p.key === `disbursement:${id}`)!;
    assert.equal(payment.requests, 2, 'the takeover asked again with the same idempotency key');
    const ev = await f.t.mongo.db.collection('events').findOne({ 'payload.applicationId': id });
    assert.equal(ev!.recoveries, 1, 'the event was recovered from the dead worker');
    const byWorker = await f.t.c.audit.countDocuments({ entityId: id, 'actor.id': WORKER_ACTORS.disbursement.id });
    assert.ok(byWorker >= 3, 'disbursing, re-fenced and disbursed are audited');
  });
  test('pays exactly the approved terms, even when the stored amount changed behind the API', async () => {
    const id = await approved();
    // Not possible through any use case (frozen terms): a direct write, as a bad migration or a bug would do.
    await f.t.c.applications.updateOne({ _id: id }, { $set: { amount: 999_999 } });
    const worker = await f.startWorkers({ WORKER_ROLES: 'disbursement', PAYMENT_GATEWAY_URL: gw.url });
    try {
      await waitFor('the disbursement', async () => (await f.t.c.applications.findOne({ _id: id }))?.status === 'disbursed', {
        died: f.procs.died,
      });
    } finally {
      await worker.stop();
    }
    await assertExactlyOnce(id);
    assert.equal((await f.t.c.ledger.findOne({ applicationId: id }))!.amount, 25_000);
  });

  test('the gateway refuses a reused idempotency key with another amount; the worker dead-letters instead of paying', async () => {
    const pay = (key: string, amount: number) =>
      fetch(`${gw.url}/payments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ reference: 'ref-1', amount, currency: 'USD' }),
      });
    const first = await pay('reuse-test', 100);
    assert.equal(first.status, 201);
    assert.equal(((await first.json()) as { amount: number }).amount, 100, 'the answer carries the amount paid');
    assert.equal((await pay('reuse-test', 100)).status, 200, 'same key, same amount: replayed');
    assert.equal((await pay('reuse-test', 200)).status, 422, 'same key, other amount: refused');
    const recorded = (await paid()).find((p) => p.key === 'reuse-test')!;
    assert.equal(recorded.amount, 100);
    assert.equal(recorded.requests, 2);

    const id = await approved();
    // Someone already used this application's key for another amount: the worker must not "succeed".
    await fetch(`${gw.url}/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `disbursement:${id}` },
      body: JSON.stringify({ reference: id, amount: 1, currency: 'USD' }),
    });
    const worker = await f.startWorkers({ WORKER_ROLES: 'disbursement', PAYMENT_GATEWAY_URL: gw.url });
    try {
      await waitFor('the event to be dead-lettered', async () => {
        const ev = await f.t.mongo.db.collection('events').findOne({ 'payload.applicationId': id, type: 'disbursement.requested' });
        return ev?.state === 'dead';
      });
    } finally {
      await worker.stop();
    }
    assert.equal(await f.t.c.ledger.countDocuments({ applicationId: id }), 0, 'no ledger entry for a payment of another amount');
    assert.equal((await f.t.c.applications.findOne({ _id: id }))!.status, 'disbursing');
  });

  test('the gateway client refuses an answer whose amount differs from the request', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ paymentId: 'pay_x', amount: 1, currency: 'USD' }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      const gateway = httpPaymentGateway(`http://127.0.0.1:${port}`, 5000);
      const req = { idempotencyKey: 'k', applicationId: 'LOAN-X', amount: 25_000, currency: 'USD' };
      await assert.rejects(
        gateway.pay(req, AbortSignal.timeout(5000)),
        (e) => e instanceof PermanentError && /paid 1 USD for 25000 USD/.test(e.message),
      );
    } finally {
      server.close();
    }
  });
});
