// Per-type pause: a paused type is not claimed (workers obey within a second); resume continues.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { eventsCollection, pausedTypes, pauseType, publish, resumeType, startWorker, type JobDefinition } from '../../lib/queue/index.js';
import { silentLog } from '../helpers/db.js';
import { fixture } from '../helpers/fixture.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('queue_pause');

const job = (type: string): JobDefinition<object> => ({ type, payload: z.object({}), handle: async () => 'done' });

test('pausing a type stops its claims within a second, other types go on; resume continues', async () => {
  const db = f.t.mongo.db;
  const events = eventsCollection(db);
  const w = startWorker({ db, jobs: [job('paused-type'), job('other-type')], concurrency: 4, pollMs: 200, log: silentLog });
  try {
    const warm = await publish(db, 'paused-type', {});
    await waitFor('the worker to run', async () => (await events.findOne({ _id: warm.id }))?.state === 'completed');

    await pauseType(db, 'paused-type', 'ops@example.com');
    assert.deepEqual(await pausedTypes(db), ['paused-type']);
    assert.equal((await db.collection('queue_controls').findOne({ _id: 'paused-type' as never }))?.by, 'ops@example.com');
    await sleep(1000); // the obedience window the contract allows
    const held = await Promise.all(Array.from({ length: 5 }, () => publish(db, 'paused-type', {})));
    const other = await publish(db, 'other-type', {});
    await waitFor('the unpaused type to complete', async () => (await events.findOne({ _id: other.id }))?.state === 'completed');
    await sleep(1200); // several polls and cache refreshes
    assert.equal(
      await events.countDocuments({ _id: { $in: held.map((h) => h.id) }, state: 'pending', attempts: 0 }),
      5,
      'none claimed while paused',
    );

    await resumeType(db, 'paused-type');
    assert.deepEqual(await pausedTypes(db), []);
    await waitFor(
      'the paused events to complete after resume',
      async () => (await events.countDocuments({ _id: { $in: held.map((h) => h.id) }, state: 'completed' })) === 5,
    );
  } finally {
    await w.stop();
  }
});
