// Real worker processes: many events through several processes, and a worker killed with -9.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { eventsCollection, publishMany, queueStats } from '../../lib/queue/index.js';
import { fixture } from '../helpers/fixture.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('queue_processes');

/** A fixture worker process (tests/fixtures/queue/worker.ts) named by its OWNER. */
const worker = (env: Record<string, string> & { OWNER: string }) =>
  f.procs.node(env.OWNER, 'tests/fixtures/queue/worker.ts', { MONGO_URI: f.t.uri, MONGO_DB: f.t.dbName, ...env }, { readyLine: 'ready\n' });

describe('several worker processes', () => {
  test('10,000 events through 2 processes × 16 lanes: each completes once, never two owners at once, none lost', async () => {
    const N = 10_000;
    const events = eventsCollection(f.t.mongo.db);
    await f.t.mongo.db.collection('running').deleteMany({});
    for (let i = 0; i < N; i += 2000) {
      await publishMany(
        f.t.mongo.db,
        'effect',
        Array.from({ length: 2000 }, (_, k) => ({ n: i + k })),
      );
    }
    const ws = await Promise.all(['a', 'b'].map((o) => worker({ OWNER: `many-${o}`, CONCURRENCY: '16', TRACK_OVERLAP: '1' })));
    await waitFor('all events completed', async () => (await events.countDocuments({ state: 'completed' })) === N, {
      timeoutMs: 240_000,
      intervalMs: 250,
      died: f.procs.died,
    });
    await Promise.all(ws.map((w) => w.stop()));

    assert.equal(await events.countDocuments({}), N, 'no event lost or duplicated');
    assert.equal(await events.countDocuments({ attempts: { $ne: 1 } }), 0, 'every event ran exactly one attempt');
    assert.equal(await f.t.mongo.db.collection('overlaps').countDocuments(), 0, 'no event ran under two owners at once');
    const effects = f.t.mongo.db.collection<{ runs: number; n: number }>('effects');
    assert.equal(await effects.countDocuments(), N, 'one effect per event');
    assert.equal(await effects.countDocuments({ runs: { $ne: 1 } }), 0);
    const owners = await events.distinct('result.owner');
    assert.deepEqual(owners.sort(), ['many-a', 'many-b'], 'both processes took part');
    const stats = await queueStats(f.t.mongo.db);
    assert.equal(stats.types.effect?.completed, N);
    assert.equal(stats.pending + stats.processing + stats.dead, 0);
  });
});

describe('a worker killed with -9', () => {
  test('its events complete elsewhere after the lease, the effect applies once, recoveries are counted', async () => {
    const db = f.t.mongo.db;
    await db.collection('effects').deleteMany({});
    await eventsCollection(db).deleteMany({});
    const victim = await worker({ OWNER: 'victim', CONCURRENCY: '8', LEASE_MS: '1500' });
    // The effect is written first, then the handler sleeps: killed after the effect, before completion.
    const ids = await publishMany(
      db,
      'effect',
      Array.from({ length: 6 }, (_, n) => ({ n, sleepMs: 60_000 })),
    );
    await waitFor('the victim to apply all 6 effects', async () => (await db.collection('effects').countDocuments()) === 6, {
      died: f.procs.died,
    });
    assert.equal(await eventsCollection(db).countDocuments({ state: 'processing', owner: { $exists: true } }), 6);
    assert.equal((await victim.kill9()).signal, 'SIGKILL');

    // The rescuer runs the same events with a short handler.
    await eventsCollection(db).updateMany({ _id: { $in: ids } }, { $set: { 'payload.sleepMs': 0 } });
    const rescuer = await worker({ OWNER: 'rescuer', CONCURRENCY: '4', LEASE_MS: '1500', POLL_MS: '200' });
    await waitFor(
      'the 6 events completed by the rescuer',
      async () => (await eventsCollection(db).countDocuments({ _id: { $in: ids }, state: 'completed', 'result.owner': 'rescuer' })) === 6,
      { timeoutMs: 30_000 },
    );
    await rescuer.stop();

    const effects = await db.collection<{ runs: number; firstOwner: string }>('effects').find().toArray();
    assert.equal(effects.length, 6, 'the effect exists once per event');
    assert.ok(
      effects.every((e) => e.firstOwner === 'victim' && e.runs === 2),
      'the rerun found the effect already applied',
    );
    const evs = await eventsCollection(db)
      .find({ _id: { $in: ids } })
      .toArray();
    for (const e of evs) {
      assert.equal(e.attempts, 2);
      assert.equal(e.recoveries, 1);
      assert.equal(e.errors.length, 1);
      assert.match(e.errors[0]!.message, /lease expired/);
      assert.equal(e.errors[0]!.attempt, 1);
    }
    const stats = await queueStats(db);
    assert.equal(stats.recovered, 6);
    assert.equal(stats.types.effect?.recovered, 6);
    assert.equal(stats.types.effect?.completed, 6);
  });
});
