// Failures: retries on the backoff schedule, dead-letter after maxAttempts with every attempt's
// error, PermanentError and invalid payloads dead-letter at once, retry from the dead-letter list.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { z } from 'zod';
import { inTransaction } from '../../lib/db/transaction.js';
import {
  backoffDelay,
  deadLetterIds,
  eventsCollection,
  listDeadLetters,
  PermanentError,
  publish,
  purgeDeadLetters,
  requeueDeadLetters,
  retryDeadLetter,
  retryDeadLetters,
  startWorker,
  type JobDefinition,
} from '../../lib/queue/index.js';
import { fixture } from '../helpers/fixture.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('queue_retry');
let w: ReturnType<typeof startWorker>;
const backoff = { baseMs: 100, factor: 2, capMs: 250, jitter: 0 };
let healthy = false;
const seen: Array<{ attempt: number; runAtMinusLastError: number | null }> = [];

const flaky: JobDefinition<{ k: string }> = {
  type: 'flaky',
  payload: z.object({ k: z.string() }),
  maxAttempts: 4,
  async handle(p, ctx) {
    const doc = await eventsCollection(f.t.mongo.db).findOne({ _id: new (await import('mongodb')).ObjectId(ctx.eventId) });
    const last = doc?.errors.at(-1);
    seen.push({ attempt: ctx.attempt, runAtMinusLastError: last ? doc!.runAt.getTime() - last.at.getTime() : null });
    if (!healthy) throw new Error(`boom ${p.k} #${ctx.attempt}`);
    return 'recovered';
  },
};
const permanent: JobDefinition<object> = {
  type: 'permanent',
  payload: z.object({}),
  async handle() {
    throw new PermanentError('card declined for good');
  },
};

/** The worker's warnings and errors (a write it could not make, a failed claim), shown when a wait times out. */
const workerLines: string[] = [];
f.before(() => {
  const log = pino({ level: 'warn' }, { write: (line: string) => void workerLines.push(line) });
  w = startWorker({ db: f.t.mongo.db, jobs: [flaky, permanent], concurrency: 4, pollMs: 50, backoff, log });
  f.after(() => w.stop());
});

const eventOf = (id: unknown) => eventsCollection(f.t.mongo.db).findOne({ _id: id as never });
const stateOf = async (id: unknown) => (await eventOf(id))?.state;

/** Waits (bounded) until every event in `ids` is in `state`; a time-out shows the events as stored and the worker's warnings. */
async function untilState(state: string, ...ids: unknown[]): Promise<void> {
  try {
    await waitFor(`${ids.length} event(s) ${state}`, async () => (await Promise.all(ids.map(stateOf))).every((s) => s === state));
  } catch (e) {
    const events = await Promise.all(ids.map(eventOf));
    throw new Error(`${(e as Error).message}; events: ${JSON.stringify(events)}; worker log: ${workerLines.join('')}`);
  }
}

test("retries on the backoff schedule, then dead-letters after maxAttempts with every attempt's error", async () => {
  const { id } = await publish(f.t.mongo.db, 'flaky', { k: 'a' });
  await untilState('dead', id);
  const doc = (await eventsCollection(f.t.mongo.db).findOne({ _id: id }))!;
  assert.equal(doc.attempts, 4, `worker log: ${workerLines.join('')}`);
  assert.deepEqual(
    doc.errors.map((e) => e.attempt),
    [1, 2, 3, 4],
    `worker log: ${workerLines.join('')}`,
  );
  assert.deepEqual(
    doc.errors.map((e) => e.message),
    [1, 2, 3, 4].map((n) => `Error: boom a #${n}`),
  );
  assert.ok(doc.deadAt);
  assert.equal(doc.deadReason, 'handler_error');
  // Each retry was scheduled exactly backoff(attempt) after that attempt's failure (server clock).
  assert.deepEqual(
    seen.map((s) => s.runAtMinusLastError),
    [null, backoffDelay(1, backoff), backoffDelay(2, backoff), backoffDelay(3, backoff)],
  );
  assert.deepEqual(
    seen.map((s) => s.runAtMinusLastError),
    [null, 100, 200, 250],
  );

  const list = await listDeadLetters(f.t.mongo.db, { type: 'flaky', page: 1, limit: 10 });
  assert.equal(list.total, 1);
  assert.ok(list.items[0]!._id.equals(id));
  healthy = true;
  assert.equal(await retryDeadLetter(f.t.mongo.db, id), true);
  assert.equal(await retryDeadLetter(f.t.mongo.db, id), false, 'only a dead event can be retried');
  await untilState('completed', id);
  const after = (await eventsCollection(f.t.mongo.db).findOne({ _id: id }))!;
  assert.equal(after.attempts, 1, 'the attempt budget was reset');
  assert.equal(after.result, 'recovered');
  assert.equal(after.errors.length, 4, 'the error history is kept');
  assert.equal(after.deadReason, undefined, 'the give-up reason went with the retry');
});

test('PermanentError dead-letters at once; an invalid payload dead-letters at once', async () => {
  const p = await publish(f.t.mongo.db, 'permanent', {});
  const bad = await publish(f.t.mongo.db, 'flaky', { k: 42 });
  await untilState('dead', p.id, bad.id);
  const pd = (await eventsCollection(f.t.mongo.db).findOne({ _id: p.id }))!;
  assert.equal(pd.attempts, 1);
  assert.match(pd.errors[0]!.message, /^PermanentError: card declined for good/);
  assert.equal(pd.deadReason, 'permanent_error');
  const bd = (await eventsCollection(f.t.mongo.db).findOne({ _id: bad.id }))!;
  assert.equal(bd.attempts, 1);
  assert.match(bd.errors[0]!.message, /^PermanentError: invalid payload/);
  assert.equal(bd.deadReason, 'invalid_payload');
});

test('bulk retry and purge of dead letters, filtered by type and age', async () => {
  const db = f.t.mongo.db;
  await w.stop();
  const events = eventsCollection(db);
  await events.deleteMany({});
  const old = new Date(Date.now() - 86_400_000);
  const mk = (type: string, deadAt: Date) =>
    publish(db, type, {}).then(async ({ id }) => {
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

test("requeueDeadLetters inside a caller's transaction: only dead ones move, and a rollback keeps them dead", async () => {
  const db = f.t.mongo.db;
  const events = eventsCollection(db);
  await events.deleteMany({});
  const mk = (state: 'dead' | 'pending', deadAt?: Date) =>
    publish(db, 'c', {}).then(async ({ id }) => {
      await events.updateOne(
        { _id: id },
        { $set: { state, attempts: 3, ...(deadAt ? { deadAt, deadReason: 'handler_error' as const } : {}) } },
      );
      return id;
    });
  const [older, newer, alive] = [await mk('dead', new Date(Date.now() - 60_000)), await mk('dead', new Date()), await mk('pending')];
  assert.deepEqual((await deadLetterIds(db, { type: 'c' }, 10)).map(String), [older, newer].map(String), 'oldest dead first');
  assert.deepEqual((await deadLetterIds(db, { type: 'c' }, 1)).map(String), [String(older)]);
  assert.deepEqual(await deadLetterIds(db, { type: 'other' }, 10), []);

  await assert.rejects(
    inTransaction(db.client, async (session) => {
      assert.equal((await requeueDeadLetters(db, [older, newer], session)).length, 2);
      throw new Error("the caller's other write failed");
    }),
  );
  assert.equal(await events.countDocuments({ _id: { $in: [older, newer] }, state: 'dead' }), 2, 'rolled back with the caller');

  const moved = await inTransaction(db.client, (session) => requeueDeadLetters(db, [older, alive], session));
  assert.deepEqual(
    moved.map((m) => String(m._id)),
    [String(older)],
    'a pending event is not touched',
  );
  const doc = (await events.findOne({ _id: older }))!;
  assert.deepEqual(
    { state: doc.state, attempts: doc.attempts, deadReason: doc.deadReason, deadAt: doc.deadAt },
    { state: 'pending', attempts: 0, deadReason: undefined, deadAt: undefined },
  );
  assert.equal((await events.findOne({ _id: alive }))!.attempts, 3);
});
