// At most one ledger entry per application, whatever happens: duplicate events, two worker
// processes racing, a worker killed with SIGKILL in the middle of the payment.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseEnv, workerSchema } from '../../lib/config.js';
import { createApplication, updateApplication } from '../../lib/domain/applications/commands.js';
import type { Deps } from '../../lib/domain/applications/context.js';
import { createApplicationInput } from '../../lib/domain/applications/schemas.js';
import { WORKER_ACTORS } from '../../lib/domain/pipeline/events.js';
import { pipelineHooks } from '../../lib/domain/pipeline/hooks.js';
import { httpPaymentGateway } from '../../lib/domain/pipeline/payment-gateway.js';
import { publish, queueStats, startWorker } from '../../lib/queue/index.js';
import { disbursementJob } from '../../workers/jobs/disbursement.job.js';
import { sampleApplication } from '../helpers/app.js';
import { silentLog, testDb, type TestDb } from '../helpers/db.js';
import { killLeftovers, spawnGateway, spawnWorker, waitFor, workerEnv, type Gateway } from '../helpers/workers.js';

let t: TestDb;
let gw: Gateway;
let deps: Deps;
const meta = { actor: { id: 'u1', email: 'reviewer@test.local' } };

before(async () => {
  t = await testDb('disbursement');
  gw = await spawnGateway();
  deps = { client: t.mongo.client, c: t.c, hooks: pipelineHooks(t.mongo.db) };
});
after(async () => { await killLeftovers(); await t.close(); });

/** A reviewer approves manually: the afterChange hook publishes disbursement.requested. */
async function approved(extraEvents = 0): Promise<string> {
  const a = await createApplication(deps, createApplicationInput.parse(sampleApplication()), meta);
  await updateApplication(deps, a._id, 1, { status: 'under_review' }, meta);
  await updateApplication(deps, a._id, 2, { status: 'approved' }, meta);
  for (let i = 0; i < extraEvents; i++) await publish(t.mongo.db, 'disbursement.requested', { applicationId: a._id });
  return a._id;
}

async function settled(): Promise<boolean> {
  const s = (await queueStats(t.mongo.db)).types['disbursement.requested'];
  return !!s && s.pending === 0 && s.processing === 0;
}

async function assertExactlyOnce(id: string) {
  assert.equal(await t.c.ledger.countDocuments({ applicationId: id }), 1, `one ledger entry for ${id}`);
  const app = await t.c.applications.findOne({ _id: id });
  assert.equal(app!.status, 'disbursed');
  const ledger = await t.c.ledger.findOne({ applicationId: id });
  assert.equal(ledger!.fence, app!.disbursement!.fence);
  assert.equal(ledger!.amount, app!.amount);
  const payments = (await gw.payments()).filter((p) => p.key === `disbursement:${id}`);
  assert.equal(payments.length, 1, 'the gateway paid once');
  assert.equal(ledger!.paymentRef, payments[0]!.paymentId);
  const statuses = (await t.c.audit.find({ entityId: id, 'changes.status': { $exists: true } }).sort({ toVersion: 1 }).toArray())
    .map((e) => e.changes.status!.to);
  assert.deepEqual(statuses, ['submitted', 'under_review', 'approved', 'disbursing', 'disbursed']);
}

describe('disbursement', () => {
  test('a manual approval publishes disbursement.requested in its transaction', async () => {
    const id = await approved();
    const ev = await t.mongo.db.collection('events').findOne({ type: 'disbursement.requested', 'payload.applicationId': id });
    assert.ok(ev);
    assert.equal(ev.dedupeKey, `disbursement:${id}:v3`);
    await t.mongo.db.collection('events').deleteOne({ _id: ev._id });
  });

  test('duplicate disbursement.requested events: one ledger entry, one payment per application', async () => {
    const ids = [await approved(5), await approved(5), await approved(5)];
    const cfg = parseEnv(workerSchema, workerEnv(t));
    const worker = startWorker({
      db: t.mongo.db, concurrency: 8, log: silentLog, pollMs: 200,
      jobs: [disbursementJob({ deps, db: t.mongo.db, cfg, gateway: httpPaymentGateway(gw.url, 5000) })],
    });
    try {
      await waitFor(settled, 'all disbursement events to settle');
    } finally {
      await worker.stop();
    }
    for (const id of ids) await assertExactlyOnce(id);
    const s = (await queueStats(t.mongo.db)).types['disbursement.requested']!;
    assert.equal(s.completed, 18);
    assert.equal(s.dead, 0);
  });

  test('two worker processes racing over duplicated events: exactly one ledger entry each', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push(await approved(3));
    const env = { PAYMENT_GATEWAY_URL: gw.url, WORKER_CONCURRENCY_DISBURSEMENT: '4' };
    const [a, b] = await Promise.all([spawnWorker(t, 'disbursement', env), spawnWorker(t, 'disbursement', env)]);
    try {
      await waitFor(settled, 'all disbursement events to settle');
    } finally {
      assert.deepEqual(await Promise.all([a.stop(), b.stop()]), [0, 0], 'both workers exit 0 on SIGTERM');
    }
    for (const id of ids) await assertExactlyOnce(id);
    assert.equal((await queueStats(t.mongo.db)).types['disbursement.requested']!.dead, 0);
  });

  test('a worker killed with SIGKILL mid-payment: another takes over with a higher fence; paid once, one ledger entry', async () => {
    await gw.setHold(true); // the gateway records the payment, then holds its answer
    const env = { PAYMENT_GATEWAY_URL: gw.url, WORKER_LEASE_MS: '1500', WORKER_LOCK_TTL_MS: '1500' };
    const first = await spawnWorker(t, 'disbursement', env);
    const id = await approved();
    await waitFor(async () => (await gw.held()) > 0, 'the payment request to reach the gateway');
    const stamped = await t.c.applications.findOne({ _id: id });
    assert.equal(stamped!.status, 'disbursing');
    first.proc.kill('SIGKILL');
    await first.exited();
    await gw.setHold(false);

    const second = await spawnWorker(t, 'disbursement', env);
    try {
      await waitFor(async () => (await t.c.applications.findOne({ _id: id }))?.status === 'disbursed', 'the takeover to finish');
      await waitFor(settled, 'the event to complete');
    } finally {
      await second.stop();
    }
    await assertExactlyOnce(id);
    const app = await t.c.applications.findOne({ _id: id });
    assert.ok(Number(app!.disbursement!.fence) > Number(stamped!.disbursement!.fence), 'the takeover holds a higher fence');
    const payment = (await gw.payments()).find((p) => p.key === `disbursement:${id}`)!;
    assert.equal(payment.requests, 2, 'the takeover asked again with the same idempotency key');
    const ev = await t.mongo.db.collection('events').findOne({ 'payload.applicationId': id });
    assert.equal(ev!.recoveries, 1, 'the event was recovered from the dead worker');
    const byWorker = await t.c.audit.countDocuments({ entityId: id, 'actor.id': WORKER_ACTORS.disbursement.id });
    assert.ok(byWorker >= 3, 'disbursing, re-fenced and disbursed are audited');
  });
});
