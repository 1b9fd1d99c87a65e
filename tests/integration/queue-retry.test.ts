// Failures: retries on the backoff schedule, dead-letter after maxAttempts with every attempt's
// error, PermanentError and invalid payloads dead-letter at once, retry from the dead-letter list.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { z } from 'zod';
import {
  backoffDelay, eventsCollection, listDeadLetters, PermanentError, publish, purgeDeadLetters, retryDeadLetter, retryDeadLetters,
  startWorker, type JobDefinition,
} from '../../lib/queue/index.js';
import { silentLog, testDb, type TestDb } from '../helpers/db.js';
import { waitFor } from '../helpers/queue.js';

let t: TestDb;
let w: ReturnType<typeof startWorker>;
const backoff = { baseMs: 100, factor: 2, capMs: 250, jitter: 0 };
let healthy = false;
const seen: Array<{ attempt: number; runAtMinusLastError: number | null }> = [];

const flaky: JobDefinition<{ k: string }> = {
  type: 'flaky', payload: z.object({ k: z.string() }), maxAttempts: 4,
  async handle(p, ctx) {
    const doc = await eventsCollection(t.mongo.db).findOne({ _id: new (await import('mongodb')).ObjectId(ctx.eventId) });
    const last = doc?.errors.at(-1);
    seen.push({ attempt: ctx.attempt, runAtMinusLastError: last ? doc!.runAt.getTime() - last.at.getTime() : null });
    if (!healthy) throw new Error(`boom ${p.k} #${ctx.attempt}`);
    return 'recovered';
  },
};
const permanent: JobDefinition<object> = {
  type: 'permanent', payload: z.object({}), async handle() { throw new PermanentError('card declined for good'); },
};

before(async () => {
  t = await testDb('queue_retry');
  w = startWorker({ db: t.mongo.db, jobs: [flaky, permanent], concurrency: 4, pollMs: 50, backoff, log: silentLog });
});
after(async () => { await w.stop(); await t.close(); });

const stateOf = async (id: unknown) => (await eventsCollection(t.mongo.db).findOne({ _id: id as never }))?.state;

test('retries on the backoff schedule, then dead-letters after maxAttempts with every attempt\'s error', async () => {
  const { id } = await publish(t.mongo.db, 'flaky', { k: 'a' });
  await waitFor('dead letter', async () => (await stateOf(id)) === 'dead', { timeoutMs: 15_000 });
  const doc = (await eventsCollection(t.mongo.db).findOne({ _id: id }))!;
  assert.equal(doc.attempts, 4);
  assert.deepEqual(doc.errors.map((e) => e.attempt), [1, 2, 3, 4]);
  assert.deepEqual(doc.errors.map((e) => e.message), [1, 2, 3, 4].map((n) => `Error: boom a #${n}`));
  assert.ok(doc.deadAt);
  // Each retry was scheduled exactly backoff(attempt) after that attempt's failure (server clock).
  assert.deepEqual(seen.map((s) => s.runAtMinusLastError), [null, backoffDelay(1, backoff), backoffDelay(2, backoff), backoffDelay(3, backoff)]);
  assert.deepEqual(seen.map((s) => s.runAtMinusLastError), [null, 100, 200, 250]);

  const list = await listDeadLetters(t.mongo.db, { type: 'flaky', page: 1, limit: 10 });
  assert.equal(list.total, 1);
  assert.ok(list.items[0]!._id.equals(id));
  healthy = true;
  assert.equal(await retryDeadLetter(t.mongo.db, id), true);
  assert.equal(await retryDeadLetter(t.mongo.db, id), false, 'only a dead event can be retried');
  await waitFor('completion after retry', async () => (await stateOf(id)) === 'completed', { timeoutMs: 15_000 });
  const after = (await eventsCollection(t.mongo.db).findOne({ _id: id }))!;
  assert.equal(after.attempts, 1, 'the attempt budget was reset');
  assert.equal(after.result, 'recovered');
  assert.equal(after.errors.length, 4, 'the error history is kept');
});

test('PermanentError dead-letters at once; an invalid payload dead-letters at once', async () => {
  const p = await publish(t.mongo.db, 'permanent', {}, { maxAttempts: 10 });
  const bad = await publish(t.mongo.db, 'flaky', { k: 42 }, { maxAttempts: 10 });
  await waitFor('both dead', async () => (await stateOf(p.id)) === 'dead' && (await stateOf(bad.id)) === 'dead', { timeoutMs: 15_000 });
  const pd = (await eventsCollection(t.mongo.db).findOne({ _id: p.id }))!;
  assert.equal(pd.attempts, 1);
  assert.match(pd.errors[0]!.message, /^PermanentError: card declined for good/);
  const bd = (await eventsCollection(t.mongo.db).findOne({ _id: bad.id }))!;
  assert.equal(bd.attempts, 1);
  assert.match(bd.errors[0]!.message, /^PermanentError: invalid payload/);
});

test('bulk retry and purge of dead letters, filtered by type and age', async () => {
  const db = t.mongo.db;
  await w.stop();
  const events = eventsCollection(db);
  await events.deleteMany({});
  const old = new Date(Date.now() - 86_400_000);
  const mk = (type: string, deadAt: Date) => publish(db, type, {}).then(async ({ id }) => {
    await events.updateOne({ _id: id }, { $set: { state: 'dead', deadAt, attempts: 3 } });
    return id;
  });
  await Promise.all([mk('a', old), mk('a', new Date()), mk('b', old), mk('b', new Date()), mk('b', new Date())]);
  assert.equal((await listDeadLetters(db, { page: 1, limit: 2 })).items.length, 2);
  assert.equal((await listDeadLetters(db, { page: 2, limit: 2 })).total, 5);
  assert.equal(await purgeDeadLetters(db, { type: 'b', olderThan: new Date(Date.now() - 3600_000) }), 1);
  assert.equal(await retryDeadLetters(db, { type: 'b' }), 2);
  assert.equal(await events.countDocuments({ type: 'b', state: 'pending', attempts: 0 }), 2);
  assert.equal(await purgeDeadLetters(db, {}), 2);
  assert.equal((await listDeadLetters(db, { page: 1, limit: 10 })).total, 0);
});
