// stop(): a claim round still in flight when the stop deadline passes is awaited (bounded) and
// what it claimed is released, not left leased to a stopped worker until the lease runs out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { z } from 'zod';
import { eventsCollection, publish, startWorker, type JobDefinition } from '../../lib/queue/index.js';
import { fixture } from '../helpers/fixture.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('queue_stop');

test('a claim blocked past the stop deadline is released once it returns', async () => {
  const db = f.t.mongo.db;
  const events = eventsCollection(db);
  const lines: string[] = [];
  const log = pino(
    { level: 'info' },
    {
      write: (line: string) => {
        lines.push(line);
      },
    },
  );
  const logged = (msg: string) => lines.some((l) => (JSON.parse(l) as { msg?: string }).msg?.startsWith(msg));
  let ran = false;
  const job: JobDefinition<object> = {
    type: 'stop-claim',
    payload: z.object({}),
    handle: async () => {
      ran = true;
    },
  };
  const { id } = await publish(db, 'stop-claim', {});

  // An open transaction holds the event's write lock: the worker's claim waits for it to end.
  const session = f.t.mongo.client.startSession();
  session.startTransaction();
  await events.updateOne({ _id: id }, { $set: { heldByTest: true } }, { session });
  const claimInFlight = async () =>
    (
      await f.t.mongo.client
        .db('admin')
        .aggregate([
          { $currentOp: {} },
          {
            $match: { ns: `${f.t.dbName}.events`, 'command.findAndModify': 'events' },
          },
        ])
        .toArray()
    ).length > 0;
  const w = startWorker({ db, jobs: [job], concurrency: 1, pollMs: 100, log });
  try {
    await waitFor('the claim to be blocked in the server', claimInFlight, { timeoutMs: 10_000 });
    const stopping = w.stop(100);
    await waitFor('stop() to pass its deadline with the claim in flight', () => logged('stopping with a claim round in flight'), {
      timeoutMs: 5000,
      intervalMs: 20,
    });
    await session.abortTransaction(); // the claim now goes through and takes the event
    await stopping;
  } finally {
    await session.endSession();
    await w.stop();
  }
  assert.equal(ran, false, 'the handler did not run');
  const doc = (await events.findOne({ _id: id }))!;
  assert.equal(doc.state, 'pending', 'released, not left processing until its lease expires');
  assert.equal(doc.attempts, 0, 'the released claim is not counted as an attempt');
  assert.equal(doc.leaseUntil, undefined);
  assert.ok(
    lines.some((l) => (JSON.parse(l) as { msg?: string; released?: number }).released === 1),
    'stop reports one event released',
  );
});
