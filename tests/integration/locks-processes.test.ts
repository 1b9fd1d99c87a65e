// Three real processes increment one shared counter non-atomically under withLock: no lost update.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture } from '../helpers/fixture.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('locks_processes');

test('3 processes × 25 locked read-increment-write end at exactly 75, fences strictly increasing', async () => {
  const N = 25;
  const env = { MONGO_URI: f.t.uri, MONGO_DB: f.t.dbName, INCREMENTS: String(N) };
  const procs = await Promise.all(
    ['p1', 'p2', 'p3'].map((o) =>
      f.procs.node(`lock-counter-${o}`, 'tests/fixtures/queue/lock-counter.ts', { ...env, OWNER: o }, { readyLine: 'ready\n' }),
    ),
  );
  await f.t.mongo.db.collection('go').insertOne({ _id: 'go' as never });
  await waitFor('all three processes to finish', () => procs.every((p) => p.output().includes('done\n')), {
    timeoutMs: 120_000,
    intervalMs: 100,
    died: f.procs.died,
  });
  assert.deepEqual(
    (await Promise.all(procs.map((p) => p.exitWithin(30_000)))).map((e) => e.code),
    [0, 0, 0],
  );
  const counter = await f.t.mongo.db.collection<{ _id: string; value: number }>('counters').findOne({ _id: 'c' });
  assert.equal(counter?.value, 3 * N);
  const fences = await f.t.mongo.db
    .collection<{ owner: string; fence: number; counterBefore: number }>('fences_seen')
    .find()
    .sort({ counterBefore: 1 })
    .toArray();
  assert.equal(fences.length, 3 * N);
  assert.equal(new Set(fences.map((g) => g.fence)).size, 3 * N, 'every grant has its own fence');
  assert.deepEqual(
    fences.map((g) => g.counterBefore),
    Array.from({ length: 3 * N }, (_, i) => i),
    'each holder saw the previous write',
  );
  assert.ok(
    fences.every((g, i) => i === 0 || g.fence > fences[i - 1]!.fence),
    'fences grow in grant order',
  );
  assert.equal(new Set(fences.map((g) => g.owner)).size, 3);
});
