// Outbox: a state change and the event it causes commit together or not at all; dedupeKey makes
// publishing idempotent, in and out of transactions and under concurrency.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inTransaction } from '../../lib/db/transaction.js';
import { eventsCollection, publish } from '../../lib/queue/index.js';
import { fixture } from '../helpers/fixture.js';

const f = fixture('queue_outbox');

const things = () => f.t.mongo.db.collection<{ _id: string; status: string }>('things');

test('a transaction that throws writes neither the state change nor the event', async () => {
  await assert.rejects(
    inTransaction(f.t.mongo.client, async (session) => {
      await things().insertOne({ _id: 'rolled-back', status: 'approved' }, { session });
      await publish(f.t.mongo.db, 'thing.approved', { id: 'rolled-back' }, { session, dedupeKey: 'approve:rolled-back' });
      throw new Error('something after the publish failed');
    }),
    /something after the publish failed/,
  );
  assert.equal(await things().countDocuments({ _id: 'rolled-back' }), 0);
  assert.equal(await eventsCollection(f.t.mongo.db).countDocuments({ dedupeKey: 'approve:rolled-back' }), 0);
});

test('a committed transaction writes both, with the request id', async () => {
  const id = await inTransaction(f.t.mongo.client, async (session) => {
    await things().insertOne({ _id: 'committed', status: 'approved' }, { session });
    return (await publish(f.t.mongo.db, 'thing.approved', { id: 'committed' }, { session, requestId: 'req-1', priority: 5 })).id;
  });
  assert.equal(await things().countDocuments({ _id: 'committed' }), 1);
  const ev = await eventsCollection(f.t.mongo.db).findOne({ _id: id });
  assert.equal(ev?.state, 'pending');
  assert.equal(ev?.requestId, 'req-1');
  assert.equal(ev?.priority, 5);
  assert.deepEqual(ev?.payload, { id: 'committed' });
  assert.ok(ev?.createdAt && ev.runAt && ev.createdAt.getTime() === ev.runAt.getTime());
});

test('dedupeKey: publishing again returns the first id with duplicate: true, in and out of a transaction', async () => {
  const first = await publish(f.t.mongo.db, 'thing.once', { v: 1 }, { dedupeKey: 'once-1' });
  assert.equal(first.duplicate, false);
  const again = await publish(f.t.mongo.db, 'thing.once', { v: 2 }, { dedupeKey: 'once-1' });
  assert.deepEqual(again, { id: first.id, duplicate: true });
  const inTxn = await inTransaction(f.t.mongo.client, async (session) => {
    await things().insertOne({ _id: 'dedupe-txn', status: 'x' }, { session });
    return publish(f.t.mongo.db, 'thing.once', { v: 3 }, { dedupeKey: 'once-1', session });
  });
  assert.deepEqual(inTxn, { id: first.id, duplicate: true });
  assert.equal(await things().countDocuments({ _id: 'dedupe-txn' }), 1, 'the duplicate did not abort the transaction');
  const ev = await eventsCollection(f.t.mongo.db).findOne({ dedupeKey: 'once-1' });
  assert.deepEqual(ev?.payload, { v: 1 }, 'the first event is unchanged');
});

test('concurrent publishes with one dedupeKey create one event', async () => {
  const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => publish(f.t.mongo.db, 'thing.race', { i }, { dedupeKey: 'race-1' })));
  assert.equal(await eventsCollection(f.t.mongo.db).countDocuments({ dedupeKey: 'race-1' }), 1);
  assert.equal(rs.filter((r) => !r.duplicate).length, 1);
  assert.ok(rs.every((r) => r.id.equals(rs[0]!.id)));
});
