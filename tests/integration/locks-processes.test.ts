// Three real processes increment one shared counter non-atomically under withLock: no lost update.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { testDb, type TestDb } from '../helpers/db.js';
import { spawnFixture, waitFor, type Child } from '../helpers/queue.js';

let t: TestDb;
const children: Child[] = [];
before(async () => { t = await testDb('locks_processes'); });
after(async () => { await Promise.all(children.map((c) => c.kill('SIGKILL'))); await t.close(); });

test('3 processes × 25 locked read-increment-write end at exactly 75, fences strictly increasing', async () => {
  const N = 25;
  const env = { MONGO_URI: t.uri, MONGO_DB: t.dbName, INCREMENTS: String(N) };
  const procs = await Promise.all(['p1', 'p2', 'p3'].map((o) => spawnFixture('tests/fixtures/queue/lock-counter.ts', { ...env, OWNER: o })));
  children.push(...procs);
  await t.mongo.db.collection('go').insertOne({ _id: 'go' as never });
  await waitFor('all three processes to finish', () => procs.every((p) => p.output().includes('done\n')), { timeoutMs: 120_000, intervalMs: 100 });
  assert.deepEqual(await Promise.all(procs.map((p) => p.exited)), [0, 0, 0]);
  const counter = await t.mongo.db.collection<{ _id: string; value: number }>('counters').findOne({ _id: 'c' });
  assert.equal(counter?.value, 3 * N);
  const fences = await t.mongo.db.collection<{ owner: string; fence: number; counterBefore: number }>('fences_seen').find().sort({ counterBefore: 1 }).toArray();
  assert.equal(fences.length, 3 * N);
  assert.equal(new Set(fences.map((f) => f.fence)).size, 3 * N, 'every grant has its own fence');
  assert.deepEqual(fences.map((f) => f.counterBefore), Array.from({ length: 3 * N }, (_, i) => i), 'each holder saw the previous write');
  assert.ok(fences.every((f, i) => i === 0 || f.fence > fences[i - 1]!.fence), 'fences grow in grant order');
  assert.equal(new Set(fences.map((f) => f.owner)).size, 3);
});
