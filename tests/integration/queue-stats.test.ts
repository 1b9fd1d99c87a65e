// queueStats counts by type and state from one aggregation; the claim query is served by an index.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Document } from 'mongodb';
import {
  ACTIVE_STATS_PIPELINE,
  COMPLETED_RECOVERIES_PIPELINE,
  CLAIM_SORT,
  claimFilter,
  claimOne,
  completeEvent,
  eventsCollection,
  publish,
  publishMany,
  queueStats,
  retryEvent,
} from '../../lib/queue/index.js';
import { inTransaction } from '../../lib/db/transaction.js';
import { deadLetterEvent } from '../../lib/queue/settle.js';
import { fixture } from '../helpers/fixture.js';

const f = fixture('queue_stats');

function stages(plan: Document, out: Document[] = []): Document[] {
  out.push(plan);
  for (const k of ['inputStage', 'queryPlan']) if (plan[k]) stages(plan[k], out);
  for (const s of (plan.inputStages ?? []) as Document[]) stages(s, out);
  return out;
}

test('counts pending, processing, completed, failed (waiting to retry), dead and recoveries per type', async () => {
  const db = f.t.mongo.db;
  await publishMany(db, 'alpha', [{}, {}, {}, {}, {}, {}]);
  await publish(db, 'beta', {}, { runAt: new Date(Date.now() + 3600_000) });
  const c1 = (await claimOne(db, ['alpha'], 60_000))!;
  const c2 = (await claimOne(db, ['alpha'], 60_000))!;
  const c3 = (await claimOne(db, ['alpha'], 60_000))!;
  const c4 = (await claimOne(db, ['alpha'], 60_000))!;
  assert.equal(await completeEvent(db, { _id: c1._id, owner: c1.owner! }, null, 60_000), true);
  assert.equal(await retryEvent(db, { _id: c2._id, owner: c2.owner! }, { attempt: 1, message: 'x', label: 't', retryInMs: 60_000 }), true);
  assert.equal(
    await inTransaction(db.client, (session) =>
      deadLetterEvent(db, { _id: c3._id, owner: c3.owner! }, { attempt: 1, message: 'x', label: 't', reason: 'handler_error' }, session),
    ),
    true,
  );
  // c4 stays processing, but its lease is taken over once: a recovery.
  await eventsCollection(db).updateOne({ _id: c4._id }, { $set: { leaseUntil: new Date(0), priority: 9 } });
  const c5 = (await claimOne(db, ['alpha'], 60_000))!;
  assert.ok(c5._id.equals(c4._id));

  const s = await queueStats(db);
  assert.deepEqual(s.types.alpha && { ...s.types.alpha, oldestPendingAgeMs: typeof s.types.alpha.oldestPendingAgeMs }, {
    pending: 3,
    processing: 1,
    completed: 1,
    failed: 1,
    dead: 1,
    recovered: 1,
    oldestPendingAgeMs: 'number',
  });
  assert.ok(s.types.alpha!.oldestPendingAgeMs >= 0);
  assert.deepEqual(s.types.beta, { pending: 1, processing: 0, completed: 0, failed: 0, dead: 0, recovered: 0, oldestPendingAgeMs: 0 });
  assert.deepEqual(
    { ...s, types: undefined },
    { pending: 4, processing: 1, completed: 1, failed: 1, dead: 1, recovered: 1, types: undefined },
  );
});

test('explain: the claim (findAndModify) and the stats aggregation use the claim index, no collection scan, no sort', async () => {
  const db = f.t.mongo.db;
  const explained = await db.command({
    explain: {
      findAndModify: 'events',
      query: claimFilter(['alpha', 'beta']),
      sort: CLAIM_SORT,
      update: [{ $set: { state: 'processing' } }],
      new: true,
    },
    verbosity: 'queryPlanner',
  });
  const plan = stages(explained.queryPlanner.winningPlan);
  const names = plan.map((p) => p.stage as string);
  assert.ok(names.includes('IXSCAN'), names.join(' > '));
  assert.ok(plan.filter((p) => p.stage === 'IXSCAN').every((p) => p.indexName === 'claim'));
  assert.ok(!names.includes('COLLSCAN') && !names.includes('SORT'), names.join(' > '));

  // The pipelines queueStats runs: covered index scans of `claim` (no FETCH, no COLLSCAN).
  for (const [pipeline, index] of [
    [ACTIVE_STATS_PIPELINE, 'claim'],
    [COMPLETED_RECOVERIES_PIPELINE, 'recovered'],
  ] as const) {
    const text = JSON.stringify(await eventsCollection(db).aggregate(pipeline, { hint: index }).explain('queryPlanner'));
    assert.match(text, new RegExp(`"indexName":"${index}"`));
    assert.doesNotMatch(text, /COLLSCAN|FETCH/, 'a covered index scan');
  }
  const count = await db.command({
    explain: { count: 'events', query: { state: 'completed', type: 'alpha' }, hint: 'claim' },
    verbosity: 'queryPlanner',
  });
  assert.match(JSON.stringify(count.queryPlanner.winningPlan), /COUNT_SCAN/);
});

test('claims the highest priority first, then the earliest runAt; never an event not yet due', async () => {
  const db = f.t.mongo.db;
  const now = Date.now();
  const late = await publish(db, 'order', { n: 'late' }, { runAt: new Date(now - 1000) });
  const early = await publish(db, 'order', { n: 'early' }, { runAt: new Date(now - 5000) });
  const urgent = await publish(db, 'order', { n: 'urgent' }, { priority: 10 });
  await publish(db, 'order', { n: 'future' }, { runAt: new Date(now + 3600_000), priority: 100 });
  const got = [];
  for (let i = 0; i < 4; i++) got.push((await claimOne(db, ['order'], 60_000))?._id.toString() ?? null);
  assert.deepEqual(got, [urgent.id.toString(), early.id.toString(), late.id.toString(), null]);
});
