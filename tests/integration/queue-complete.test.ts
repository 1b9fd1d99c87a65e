// Batched completions (lib/queue/settle.ts completeMany): one bulkWrite of one updateMany per owner
// token and result. Each event still gets exactly its own handler's result, and a claim whose lease
// was lost is refused — alone, not its whole batch. Migration 011: the TTL index holds completed
// events only, and they still expire.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { claimBatch } from '../../lib/queue/claim.js';
import { migrateQueueIndexes } from '../../lib/queue/collection.js';
import { claimOne, completeEvent, eventsCollection, publishMany, renewLease } from '../../lib/queue/index.js';
import { completeMany } from '../../lib/queue/settle.js';
import { testDb } from '../helpers/db.js';
import { fixture } from '../helpers/fixture.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('queue_complete');

test('a batch completes with each event its own result; the one whose lease was taken over is refused alone', async () => {
  const db = f.t.mongo.db;
  await publishMany(
    db,
    'done',
    Array.from({ length: 6 }, (_, i) => ({ i })),
  );
  const batch = await claimBatch(db, ['done'], 300, 10);
  assert.equal(batch.events.length, 6);
  const [a, b, c, d, e, lost] = batch.events.map((ev) => ({ _id: ev._id, owner: ev.owner! }));
  // Every lease but the last one's is renewed; that one expires and another worker takes it over.
  for (const k of [a, b, c, d, e]) assert.equal(await renewLease(db, k!, 30_000), true);
  await sleep(500);
  const rescuer = await claimOne(db, ['done'], 30_000);
  assert.ok(rescuer?._id.equals(lost!._id));

  // Results that serialise alike in JSON but differ in BSON (a Date and its ISO string) stay apart.
  const results: unknown[] = [{ at: new Date(0) }, { at: '1970-01-01T00:00:00.000Z' }, null, undefined, { n: 1 }, 'late'];
  const refused = await completeMany(
    db,
    [a, b, c, d, e, lost].map((claim, k) => ({ claim: claim!, result: results[k] })),
    60_000,
  );
  assert.deepEqual(
    refused.map((r) => String(r._id)),
    [String(lost!._id)],
    'only the taken-over event is refused',
  );
  const docs = await eventsCollection(db)
    .find({}, { sort: { _id: 1 } })
    .toArray();
  const byId = new Map(docs.map((doc) => [String(doc._id), doc]));
  const want: unknown[] = [{ at: new Date(0) }, { at: '1970-01-01T00:00:00.000Z' }, null, null, { n: 1 }];
  [a, b, c, d, e].forEach((k, i) => {
    const doc = byId.get(String(k!._id))!;
    assert.equal(doc.state, 'completed');
    assert.deepEqual(doc.result, want[i], `event ${i} keeps its own result`);
    assert.equal(doc.leaseUntil, undefined);
    assert.ok(doc.expireAt && doc.completedAt && doc.expireAt.getTime() - doc.completedAt.getTime() === 60_000);
  });
  const taken = byId.get(String(lost!._id))!;
  assert.equal(taken.state, 'processing', 'the new owner still holds it');
  assert.equal(taken.owner, rescuer!.owner);
});

test('migration 011 replaces the TTL index by a partial one: live events have no key in it, completed ones still expire', async () => {
  const old = await testDb('queue_ttl_old', { migrate: false });
  try {
    const events = eventsCollection(old.mongo.db);
    // The index as migrations 003/005 created it before this change.
    await events.createIndex({ expireAt: 1 }, { name: 'ttl_expireAt', expireAfterSeconds: 0 });
    await migrateQueueIndexes(old.mongo.db);
    await migrateQueueIndexes(old.mongo.db); // idempotent
    const ttl = (await events.listIndexes().toArray()).filter((i) => i.key.expireAt === 1);
    assert.deepEqual(
      ttl.map((i) => [i.name, i.expireAfterSeconds, i.partialFilterExpression]),
      [['ttl_completed', 0, { expireAt: { $exists: true } }]],
    );
    const [toComplete, stillPending] = await publishMany(old.mongo.db, 'ttl', [{ i: 1 }, { i: 2 }]);
    const claimed = await claimOne(old.mongo.db, ['ttl'], 30_000);
    assert.ok(claimed);
    assert.ok(claimed._id.equals(toComplete!));
    assert.equal(await completeEvent(old.mongo.db, { _id: claimed._id, owner: claimed.owner! }, null, 0), true);
    const keys = await events.find({}, { hint: 'ttl_completed' }).toArray();
    assert.deepEqual(
      keys.map((k) => String(k._id)),
      [String(toComplete)],
      'only the completed event is in the TTL index',
    );
    // The TTL monitor runs every 5 s in tests (ttlMonitorSleepSecs): the completed event goes, the pending one stays.
    await waitFor('the TTL monitor to delete the completed event', async () => (await events.countDocuments({ _id: toComplete! })) === 0, {
      timeoutMs: 60_000,
      intervalMs: 250,
    });
    assert.equal(await events.countDocuments({ _id: stillPending! }), 1);
  } finally {
    await old.close();
  }
});
