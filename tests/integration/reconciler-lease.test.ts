// Exactly one reconciler at a time across worker processes: two disbursement workers compete for
// the fenced "reconciler" lease; only the holder runs (every recorded run names it); runs never
// overlap; after a kill -9 of the holder the other takes over — not before the dead holder's lease
// expired (server clock), and with a higher fence — and keeps running. And a holder that lost its
// lease without knowing it (stalled past it) has its fenced writes refused: nothing published.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ObjectId } from 'mongodb';
import { createApplication } from '../../lib/domain/applications/commands.js';
import { createApplicationInput } from '../../lib/domain/applications/schemas.js';
import { reconcileOnce } from '../../lib/domain/pipeline/reconcile.js';
import { RECONCILER_LOCK } from '../../lib/domain/pipeline/reconcile-lease.js';
import { acquire, locksCollection } from '../../lib/locks/index.js';
import { eventsCollection } from '../../lib/queue/index.js';
import { sampleApplication } from '../helpers/samples.js';
import type { Proc } from '../helpers/processes.js';
import { fixture } from '../helpers/fixture.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('reconciler-lease');
const ENV = { RECONCILE_INTERVAL_MS: '100', RECONCILE_LEASE_MS: '1500' };
const lock = () => locksCollection(f.t.mongo.db).findOne({ _id: RECONCILER_LOCK });
const runsBy = (owner: string) => f.t.c.reconciliationRuns.countDocuments({ owner });

describe('reconciler lease', () => {
  test('two workers: one runs the reconciler; a kill -9 of it hands over within the lease', async () => {
    const procs = new Map<string, Proc>();
    for (const id of ['rec-a', 'rec-b']) procs.set(id, await f.worker('disbursement', { ...ENV, INSTANCE_ID: id }));
    const holder = (await waitFor(
      'a holder with 10 runs',
      async () => {
        const l = await lock();
        return l?.owner && (await runsBy(l.owner)) >= 10 ? l.owner : null;
      },
      { died: f.procs.died },
    )) as string;
    const other = holder === 'rec-a' ? 'rec-b' : 'rec-a';
    assert.equal(await runsBy(other), 0, 'the other worker never ran the reconciler while the holder lived');

    await procs.get(holder)!.kill9();
    const dead = (await lock())!; // no renewal can come any more: this is its lease's end
    assert.equal(dead.owner, holder);
    await waitFor('the other worker to take over and run', async () => (await runsBy(other)) >= 3, { died: f.procs.died });
    const taken = (await lock())!;
    assert.equal(taken.owner, other);
    assert.ok(taken.fence > dead.fence, 'a takeover gets a higher fence');
    assert.ok(taken.acquiredAt! >= dead.expiresAt, 'taken only after the dead holder’s lease expired');

    const runs = await f.t.c.reconciliationRuns.find().sort({ startedAt: 1 }).toArray();
    for (let i = 1; i < runs.length; i++)
      assert.ok(runs[i]!.startedAt >= runs[i - 1]!.finishedAt, `run ${i} started before run ${i - 1} finished`);
    for (const r of runs) assert.equal(r.fence, r.owner === holder ? dead.fence : taken.fence);
    await procs.get(other)!.stop(); // the next test plants an application no worker may touch
  });
  test('a holder whose lease was taken over writes nothing: its fenced transaction is refused', async () => {
    const a = await createApplication(f.t.ctx, createApplicationInput.parse(sampleApplication()), {
      actor: { id: 'u1', email: 'reviewer@test.local' },
    });
    await f.t.c.applications.updateOne({ _id: a._id }, { $set: { status: 'scoring', updatedAt: new Date(Date.now() - 3_600_000) } });
    const key = 'reconciler:stale-test';
    const stale = (await acquire(f.t.mongo.db, key, 50))!;
    const fresh = await waitFor('the stale lease to expire and another holder to take it', () => acquire(f.t.mongo.db, key, 60_000));
    assert.ok(fresh.fence > stale.fence);
    const settings = { thresholds: { scoring: 300 }, maxRedrives: 3, batch: 10, retentionDays: 1, loanLockTtlMs: 5000 };
    const run = (lease: typeof stale) =>
      reconcileOnce({
        ctx: f.t.ctx,
        settings,
        lease: { ...lease, signal: new AbortController().signal },
        owner: 'test',
        runId: new ObjectId(),
      });

    const refused = await run(stale);
    assert.equal(refused.interrupted, true);
    assert.deepEqual(
      refused.steps.map((x) => [x.applicationId, x.action]),
      [[a._id, 'error']],
    );
    assert.match(refused.steps[0]!.reason, /StaleFenceError/);
    assert.equal(await eventsCollection(f.t.mongo.db).countDocuments({ 'payload.applicationId': a._id }), 0, 'nothing published');
    assert.equal(await f.t.c.audit.countDocuments({ entityId: a._id, action: 'reconcile.redrive' }), 0, 'nothing audited');

    const done = await run(fresh);
    assert.deepEqual(
      done.steps.map((x) => [x.applicationId, x.action]),
      [[a._id, 'redriven']],
    );
    assert.equal(await eventsCollection(f.t.mongo.db).countDocuments({ 'payload.applicationId': a._id }), 1);
  });
});
