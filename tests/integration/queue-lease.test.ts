// Leases: a worker whose lease expired or was taken over has its writes refused; graceful stop
// releases unfinished events; the change stream wakes an idle worker without waiting for a poll.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { inTransaction } from '../../lib/db/transaction.js';
import {
  claimOne,
  completeEvent,
  eventsCollection,
  publish,
  releaseEvent,
  renewLease,
  retryEvent,
  startWorker,
  type GiveUpInfo,
  type JobDefinition,
} from '../../lib/queue/index.js';
import { deadLetterEvent } from '../../lib/queue/settle.js';
import { silentLog } from '../helpers/db.js';
import { fixture } from '../helpers/fixture.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('queue_lease');

test("after its lease expires a worker's completion is refused; the next owner's is accepted", async () => {
  const db = f.t.mongo.db;
  const { id } = await publish(db, 'lease-expiry', { x: 1 });
  const first = await claimOne(db, ['lease-expiry'], 200);
  assert.ok(first);
  assert.ok(first._id.equals(id));
  assert.equal(first.attempts, 1);
  await sleep(400);
  assert.equal(await completeEvent(db, { _id: id, owner: first.owner! }, 'late', 1000), false, 'expired lease: refused');
  assert.equal(
    await inTransaction(db.client, (s) =>
      deadLetterEvent(db, { _id: id, owner: first.owner! }, { attempt: 1, message: 'late', label: 'old', reason: 'handler_error' }, s),
    ),
    false,
    'expired lease: no dead-lettering either',
  );
  const second = await claimOne(db, ['lease-expiry'], 30_000);
  assert.ok(second);
  assert.ok(second._id.equals(id));
  assert.notEqual(second.owner, first.owner, 'a fresh token per claim');
  assert.equal(second.recoveries, 1);
  const stale = { _id: id, owner: first.owner! };
  assert.equal(await renewLease(db, stale, 1000), false);
  assert.equal(await retryEvent(db, stale, { attempt: 1, message: 'x', label: 'old', retryInMs: 0 }), false);
  assert.equal(
    await inTransaction(db.client, (s) =>
      deadLetterEvent(db, stale, { attempt: 1, message: 'x', label: 'old', reason: 'handler_error' }, s),
    ),
    false,
  );
  assert.equal(await releaseEvent(db, stale), false);
  assert.equal(await completeEvent(db, { _id: id, owner: second.owner! }, 'ok', 1000), true);
  const doc = await eventsCollection(db).findOne({ _id: id });
  assert.equal(doc?.state, 'completed');
  assert.equal(doc?.result, 'ok');
  assert.ok(doc?.expireAt && doc.completedAt && doc.expireAt.getTime() - doc.completedAt.getTime() === 1000);
});

test('a running handler whose lease is taken over sees its signal abort and writes nothing', async () => {
  const db = f.t.mongo.db;
  let aborted: unknown;
  let started!: () => void;
  const running = new Promise<void>((r) => {
    started = r;
  });
  const job: JobDefinition<object> = {
    type: 'taken-over',
    payload: z.object({}),
    async handle(_p, ctx) {
      started();
      await new Promise<void>((res) =>
        ctx.signal.addEventListener(
          'abort',
          () => {
            aborted = ctx.signal.reason;
            res();
          },
          { once: true },
        ),
      );
      return 'should not be written';
    },
  };
  const w = startWorker({ db, jobs: [job], concurrency: 1, leaseMs: 600, pollMs: 100, log: silentLog });
  const { id } = await publish(db, 'taken-over', {});
  await running;
  // Another worker steals it: the lease is made to look expired and a second claim takes it.
  await eventsCollection(db).updateOne({ _id: id }, { $set: { leaseUntil: new Date(0) } });
  const thief = await claimOne(db, ['taken-over'], 60_000);
  assert.ok(thief);
  assert.ok(thief._id.equals(id));
  await waitFor('the handler signal to abort', () => aborted !== undefined, { timeoutMs: 5000 });
  assert.equal((aborted as Error).name, 'LeaseLostError');
  await w.stop(1000);
  const doc = await eventsCollection(db).findOne({ _id: id });
  assert.equal(doc?.state, 'processing');
  assert.equal(doc?.owner, thief.owner, 'the thief still owns it; nothing of the first owner was written');
  assert.equal(await completeEvent(db, { _id: id, owner: thief.owner! }, 'thief', 1000), true);
});

test('graceful stop waits for in-flight work up to the deadline, then aborts and releases it', async () => {
  const db = f.t.mongo.db;
  let signal: AbortSignal | undefined;
  const job: JobDefinition<object> = {
    type: 'slow-stop',
    payload: z.object({}),
    async handle(_p, ctx) {
      signal = ctx.signal;
      await new Promise((res) => ctx.signal.addEventListener('abort', res, { once: true }));
    },
  };
  const w = startWorker({ db, jobs: [job], concurrency: 2, pollMs: 100, log: silentLog });
  const { id } = await publish(db, 'slow-stop', {});
  await waitFor('the handler to start', () => w.inFlight() === 1);
  await Promise.all([w.stop(200), w.stop(200)]);
  assert.equal(signal?.aborted, true);
  assert.equal(w.inFlight(), 0);
  const doc = await eventsCollection(db).findOne({ _id: id });
  assert.equal(doc?.state, 'pending');
  assert.equal(doc?.attempts, 0, 'the interrupted attempt is not counted');
  assert.equal(doc?.leaseUntil, undefined);
});

test('the change stream wakes an idle worker: an event completes although the poll is a minute', async () => {
  const db = f.t.mongo.db;
  const job: JobDefinition<{ v: number }> = { type: 'wake', payload: z.object({ v: z.number() }), handle: async (p) => p.v * 2 };
  const w = startWorker({ db, jobs: [job], concurrency: 4, pollMs: 60_000, log: silentLog });
  await sleep(500); // let the worker park all its lanes and open its stream
  const { id } = await publish(db, 'wake', { v: 21 });
  await waitFor('the event to complete', async () => (await eventsCollection(db).findOne({ _id: id }))?.state === 'completed', {
    timeoutMs: 20_000,
  });
  assert.equal((await eventsCollection(db).findOne({ _id: id }))?.result, 42);
  assert.equal(w.processed(), 1);
  await w.stop();
});

test('an event whose worker keeps dying reaches dead-letter: attempts are counted at claim time, onGiveUp runs', async () => {
  const db = f.t.mongo.db;
  const { id } = await publish(db, 'crashy', {});
  // Two claims whose workers "die" (never settle): each lease simply runs out.
  for (let i = 0; i < 2; i++) {
    assert.ok(await claimOne(db, ['crashy'], 100));
    await sleep(250);
  }
  let ran = false;
  const gaveUp: Array<Omit<GiveUpInfo, 'session' | 'log'>> = [];
  const job: JobDefinition<object> = {
    type: 'crashy',
    payload: z.object({}),
    maxAttempts: 2,
    handle: async () => {
      ran = true;
    },
    onGiveUp: async (_p, { session: _s, log: _l, ...info }) => {
      gaveUp.push(info);
    },
  };
  const w = startWorker({ db, jobs: [job], concurrency: 1, pollMs: 100, log: silentLog });
  await waitFor('dead letter', async () => (await eventsCollection(db).findOne({ _id: id }))?.state === 'dead');
  await w.stop();
  const doc = (await eventsCollection(db).findOne({ _id: id }))!;
  assert.equal(ran, false, 'the third attempt is not run');
  assert.equal(doc.attempts, 3);
  assert.equal(doc.recoveries, 2);
  assert.deepEqual(
    doc.errors.map((e) => e.attempt),
    [1, 2, 3],
  );
  assert.match(doc.errors[2]!.message, /exceeds maxAttempts 2/);
  assert.equal(doc.deadReason, 'attempts_exhausted');
  assert.deepEqual(gaveUp, [
    {
      reason: 'attempts_exhausted',
      attempts: 3,
      maxAttempts: 2,
      lastError: doc.errors[1]!.message,
      eventId: String(id),
      type: 'crashy',
      rawPayload: {},
    },
  ]);
});
