// Which claim a worker sends, seen through the driver's command monitoring: one findAndModify
// per event for one idle lane or a trickle of events, batched claims (find + one multi update)
// for a deep backlog with several idle lanes. Claims of both kinds keep the same guarantees.
// claimBatch itself: the documents it returns without a read-back are exactly what it stored.
import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import { MongoClient, type Db } from 'mongodb';
import { z } from 'zod';
import { setTimeout as sleep } from 'node:timers/promises';
import { claimBatch } from '../../lib/queue/claim.js';
import { claimOne, eventsCollection, publish, publishMany, startWorker, type EventDoc, type JobDefinition } from '../../lib/queue/index.js';
import { silentLog } from '../helpers/db.js';
import { fixture } from '../helpers/fixture.js';
import { waitFor } from '../helpers/wait.js';

/** A field of a command reply (typed unknown by the driver). */
const field = (reply: unknown, name: string): unknown =>
  typeof reply === 'object' && reply !== null && name in reply ? (reply as Record<string, unknown>)[name] : undefined;

/**
 * A batch claim: a multi update whose pipeline sets state 'processing' (completions are multi
 * updates too — one per claimed batch — but set 'completed').
 */
const isBatchClaim = (u: { multi?: boolean; u?: unknown }): boolean =>
  u.multi === true && Array.isArray(u.u) && field(field(u.u[0], '$set'), 'state') === 'processing';

const f = fixture('queue_claim');
let client: MongoClient;
let db: Db;
/** Claim commands on `events` in the order sent: findAndModify, or an update with multi: true. */
let claims: Array<{ kind: 'single' | 'batch'; requestId: number; claimed?: number }> = [];
/** Reads of `events` by owner token: claimBatch's read-back. */
let readBacks = 0;

f.before(async () => {
  client = new MongoClient(f.t.uri, { monitorCommands: true });
  await client.connect();
  f.after(() => client.close());
  db = client.db(f.t.dbName);
  client.on('commandStarted', (e) => {
    if (e.commandName === 'find' && e.command.find === 'events' && field(e.command.filter, 'owner') !== undefined) readBacks++;
    if (e.commandName === 'findAndModify' && e.command.findAndModify === 'events') claims.push({ kind: 'single', requestId: e.requestId });
    const updates = e.command.updates as Array<{ multi?: boolean; u?: unknown }> | undefined;
    if (e.commandName === 'update' && e.command.update === 'events' && updates?.some(isBatchClaim))
      claims.push({ kind: 'batch', requestId: e.requestId });
  });
  client.on('commandSucceeded', (e) => {
    const c = claims.find((x) => x.requestId === e.requestId);
    if (c) c.claimed = c.kind === 'single' ? (field(e.reply, 'value') ? 1 : 0) : Number(field(e.reply, 'nModified') ?? 0);
  });
});
beforeEach(async () => {
  await eventsCollection(db).deleteMany({});
  claims = [];
  readBacks = 0;
});

const noop: JobDefinition<{ i: number }> = { type: 'noop', payload: z.object({ i: z.number() }), handle: async () => null };
const claimedBy = (kind: 'single' | 'batch') => claims.filter((c) => c.kind === kind).reduce((n, c) => n + (c.claimed ?? 0), 0);
const completed = () => eventsCollection(db).countDocuments({ state: 'completed' });

test('one lane: every claim is a single findOneAndUpdate, even with a backlog', async () => {
  await publishMany(
    db,
    'noop',
    Array.from({ length: 30 }, (_, i) => ({ i })),
  );
  const w = startWorker({ db, jobs: [noop], concurrency: 1, pollMs: 100, log: silentLog });
  try {
    await waitFor('30 completions', async () => (await completed()) === 30, { timeoutMs: 30_000 });
  } finally {
    await w.stop();
  }
  assert.equal(claimedBy('single'), 30);
  assert.equal(claims.filter((c) => c.kind === 'batch').length, 0);
});

test('a trickle of events with 8 idle lanes: each is claimed by a single findOneAndUpdate, never a batch update', async () => {
  const w = startWorker({ db, jobs: [noop], concurrency: 8, pollMs: 100, log: silentLog });
  try {
    for (let i = 0; i < 10; i++) {
      const { id } = await publish(db, 'noop', { i });
      await waitFor(`event ${i} to complete`, async () => (await eventsCollection(db).findOne({ _id: id }))?.state === 'completed', {
        intervalMs: 20,
      });
    }
  } finally {
    await w.stop();
  }
  assert.equal(claimedBy('single'), 10, 'every event was claimed by a findAndModify');
  assert.equal(claims.filter((c) => c.kind === 'batch').length, 0, 'a short backlog never reaches the batch update');
});

test('a deep backlog with 16 lanes: one single claim, then batches take the bulk; each event claimed once, attempt 1', async () => {
  const N = 600;
  await publishMany(
    db,
    'noop',
    Array.from({ length: N }, (_, i) => ({ i })),
  );
  const w = startWorker({ db, jobs: [noop], concurrency: 16, pollMs: 100, log: silentLog });
  try {
    await waitFor(`${N} completions`, async () => (await completed()) === N, { timeoutMs: 60_000, intervalMs: 100 });
  } finally {
    await w.stop();
  }
  assert.deepEqual(
    claims.slice(0, 2).map((c) => c.kind),
    ['single', 'batch'],
    'starts single, switches to batches once the first claim found work',
  );
  assert.equal(claimedBy('single') + claimedBy('batch'), N, 'every event claimed exactly once');
  assert.ok(claimedBy('batch') > N / 2, `batches claimed ${claimedBy('batch')} of ${N}`);
  assert.equal(await eventsCollection(db).countDocuments({ attempts: { $ne: 1 } }), 0);
});

/** The fields a worker acts on, as claimBatch returned them and as the database has them. */
const held = (d: EventDoc) => ({
  _id: String(d._id),
  type: d.type,
  payload: d.payload,
  state: d.state,
  owner: d.owner,
  attempts: d.attempts,
  recoveries: d.recoveries,
  errors: d.errors.map((e) => e.message),
  giveUp: d.giveUp,
  requestId: d.requestId,
});

test('claimBatch: pending candidates are claimed in two round trips and returned exactly as stored; a taken-over lease is read back', async () => {
  await publish(db, 'noop', { i: 1 }, { requestId: 'req-1' });
  await publishMany(db, 'noop', [{ i: 2 }, { i: 3 }], { priority: 1 });
  const r = await claimBatch(db, ['noop'], 30_000, 10);
  assert.equal(r.candidates, 3);
  assert.equal(readBacks, 0, 'every candidate was pending and claimed: no read-back');
  assert.deepEqual(
    r.events.map((e) => (e.payload as { i: number }).i),
    [2, 3, 1],
    'claim order: priority desc, then runAt',
  );
  const stored = await eventsCollection(db).find().toArray();
  for (const ev of r.events) {
    const doc = stored.find((d) => d._id.equals(ev._id))!;
    assert.deepEqual(held(ev), held(doc), 'the event a lane runs is the one stored');
    assert.equal(doc.attempts, 1);
    assert.equal(doc.state, 'processing');
  }
  assert.equal(new Set(r.events.map((e) => e.owner)).size, 1, 'one fresh token for the batch');

  // A lease that expired: its claim also records a recovery and an error, so claimBatch reads back.
  await eventsCollection(db).deleteMany({});
  const { id: lost } = await publish(db, 'noop', { i: 9 });
  assert.ok(await claimOne(db, ['noop'], 50));
  await sleep(200);
  await publishMany(db, 'noop', [{ i: 10 }]);
  const again = await claimBatch(db, ['noop'], 30_000, 10);
  assert.equal(again.events.length, 2);
  assert.equal(readBacks, 1, 'a taken-over lease in the batch: read back');
  const taken = again.events.find((e) => e._id.equals(lost))!;
  assert.equal(taken.attempts, 2);
  assert.equal(taken.recoveries, 1);
  assert.match(taken.errors.at(-1)?.message ?? '', /lease expired/);
  for (const ev of again.events) assert.deepEqual(held(ev), held((await eventsCollection(db).findOne({ _id: ev._id }))!));
});
