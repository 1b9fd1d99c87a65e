// Which claim a worker sends, seen through the driver's command monitoring: one findAndModify
// per event for one idle lane or a trickle of events, batched claims (find + one multi update)
// for a deep backlog with several idle lanes. Claims of both kinds keep the same guarantees.
import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import { MongoClient, type Db } from 'mongodb';
import { z } from 'zod';
import { eventsCollection, publish, publishMany, startWorker, type JobDefinition } from '../../lib/queue/index.js';
import { silentLog } from '../helpers/db.js';
import { fixture } from '../helpers/fixture.js';
import { waitFor } from '../helpers/wait.js';

/** A field of a command reply (typed unknown by the driver). */
const field = (reply: unknown, name: string): unknown =>
  typeof reply === 'object' && reply !== null && name in reply ? (reply as Record<string, unknown>)[name] : undefined;

const f = fixture('queue_claim');
let client: MongoClient;
let db: Db;
/** Claim commands on `events` in the order sent: findAndModify, or an update with multi: true. */
let claims: Array<{ kind: 'single' | 'batch'; requestId: number; claimed?: number }> = [];

f.before(async () => {
  client = new MongoClient(f.t.uri, { monitorCommands: true });
  await client.connect();
  f.after(() => client.close());
  db = client.db(f.t.dbName);
  client.on('commandStarted', (e) => {
    if (e.commandName === 'findAndModify' && e.command.findAndModify === 'events') claims.push({ kind: 'single', requestId: e.requestId });
    const updates = e.command.updates as Array<{ multi?: boolean }> | undefined;
    if (e.commandName === 'update' && e.command.update === 'events' && updates?.some((u) => u.multi))
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
        timeoutMs: 10_000,
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
