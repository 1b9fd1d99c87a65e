// The give-up hook with real worker processes: on every path that dead-letters an event the queue
// calls the job's onGiveUp exactly once, in one transaction with the dead-letter write (the
// fixture's hook writes a marker in that transaction: tests/fixtures/queue/give-up.ts).
import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import type { ObjectId } from 'mongodb';
import { eventsCollection, publish } from '../../lib/queue/index.js';
import type { GiveUpMarker, GiveUpPayload } from '../fixtures/queue/give-up.js';
import { fixture } from '../helpers/fixture.js';
import type { Proc } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

const WORKER = 'tests/fixtures/queue/worker.ts';
const f = fixture('queue_give_up');
/** The workers of the current test. */
const running: Proc[] = [];

beforeEach(async () => {
  await stopWorkers();
  await f.t.mongo.db.collection('hook_control').deleteMany({});
});

/** A fixture worker process: 1 s leases, 100 ms polls and retry backoff. */
async function worker(owner: string, extra: Record<string, string> = {}): Promise<Proc> {
  const w = await f.procs.node(
    `worker-${owner}`,
    WORKER,
    {
      MONGO_URI: f.t.uri,
      MONGO_DB: f.t.dbName,
      OWNER: owner,
      CONCURRENCY: '2',
      LEASE_MS: '1000',
      POLL_MS: '100',
      BACKOFF_MS: '100',
      ...extra,
    },
    { readyLine: 'ready\n' },
  );
  running.push(w);
  return w;
}
/** SIGTERM: each worker drains its lanes (up to 5 s) and exits. */
const stopWorkers = () => Promise.all(running.splice(0).map((w) => w.stop()));
const db = () => f.t.mongo.db;
const publishGiveUp = async (payload: GiveUpPayload | Record<string, unknown>): Promise<ObjectId> =>
  (await publish(db(), 'giveup', payload)).id;
const event = async (id: ObjectId) => eventsCollection(db()).findOne({ _id: id });
const markers = (id: ObjectId) =>
  db()
    .collection<GiveUpMarker>('giveups')
    .find({ eventId: String(id) })
    .toArray();
const count = (name: 'runs' | 'hook_calls', id: ObjectId) =>
  db()
    .collection(name)
    .countDocuments({ eventId: String(id) });
const setHook = (control: { sleepMs?: number; fail?: boolean }) =>
  db().collection<{ _id: string }>('hook_control').updateOne({ _id: 'hook' }, { $set: control }, { upsert: true });
const waitDead = (id: ObjectId, timeoutMs = 30_000) =>
  waitFor('the event to be dead', async () => (await event(id))?.state === 'dead', { timeoutMs, intervalMs: 100 });

test('(a) a worker killed with -9 on every attempt: the event ends dead, onGiveUp once, reason attempts_exhausted', async () => {
  const id = await publishGiveUp({ n: 1, mode: 'kill' });
  let killed = 0;
  // Each worker process claims the event once its previous owner's lease ran out; the first two
  // die in the handler, the third claims attempt 3 > maxAttempts 2 and gives up.
  for (let i = 0; i < 4 && (await event(id))?.state !== 'dead'; i++) {
    const w = await worker(`crash-${i}`, { MAX_ATTEMPTS: '2' });
    await waitFor('the worker to die or the event to be dead', async () => w.exit !== undefined || (await event(id))?.state === 'dead', {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    if (w.exit?.signal === 'SIGKILL') killed++;
  }
  assert.equal(killed, 2, 'two attempts killed their worker');
  const ev = (await event(id))!;
  assert.equal(ev.state, 'dead');
  assert.equal(ev.deadReason, 'attempts_exhausted');
  // 3; one more when the give-up of attempt 3 outlived its 1 s lease (a loaded machine) and the
  // other lane took the event over: that give-up is refused, the next one commits.
  assert.ok(ev.attempts === 3 || ev.attempts === 4, `attempts ${ev.attempts}`);
  assert.equal(await count('runs', id), 2, 'the handler ran on the two attempts that died, never on a give-up attempt');
  const m = await markers(id);
  assert.equal(m.length, 1, 'onGiveUp committed exactly once');
  assert.equal(m[0]!.reason, 'attempts_exhausted');
  assert.equal(m[0]!.attempts, ev.attempts, 'the give-up that committed is the last attempt');
  assert.equal(m[0]!.maxAttempts, 2);
  assert.match(m[0]!.lastError, /lease expired/);
  assert.deepEqual(m[0]!.payload, { n: 1, mode: 'kill' });
});

test('(b) a handler error on the last attempt: dead, onGiveUp once, reason handler_error', async () => {
  await worker('b', { MAX_ATTEMPTS: '2' });
  const id = await publishGiveUp({ n: 2, mode: 'throw' });
  await waitDead(id);
  const ev = (await event(id))!;
  assert.equal(ev.deadReason, 'handler_error');
  assert.equal(ev.attempts, 2);
  assert.deepEqual(
    ev.errors.map((e) => e.message),
    ['Error: boom on attempt 1', 'Error: boom on attempt 2'],
  );
  assert.equal(await count('runs', id), 2);
  const m = await markers(id);
  assert.equal(m.length, 1);
  assert.deepEqual(
    { reason: m[0]!.reason, attempts: m[0]!.attempts, lastError: m[0]!.lastError, payload: m[0]!.payload, owner: m[0]!.owner },
    { reason: 'handler_error', attempts: 2, lastError: 'Error: boom on attempt 2', payload: { n: 2, mode: 'throw' }, owner: 'b' },
  );
});

test('(c) a PermanentError: dead at once, onGiveUp once, reason permanent_error', async () => {
  await worker('c', { MAX_ATTEMPTS: '5' });
  const id = await publishGiveUp({ n: 3, mode: 'permanent' });
  await waitDead(id);
  const ev = (await event(id))!;
  assert.equal(ev.deadReason, 'permanent_error');
  assert.equal(ev.attempts, 1);
  const m = await markers(id);
  assert.equal(m.length, 1);
  assert.equal(m[0]!.reason, 'permanent_error');
  assert.equal(m[0]!.attempts, 1);
  assert.match(m[0]!.lastError, /^PermanentError: refused for good/);
});

test('(d) an invalid payload: dead at once without running the handler, onGiveUp once with no parsed payload', async () => {
  await worker('d', { MAX_ATTEMPTS: '5' });
  const id = await publishGiveUp({ n: 'not a number', mode: 'ok' });
  await waitDead(id);
  const ev = (await event(id))!;
  assert.equal(ev.deadReason, 'invalid_payload');
  assert.equal(ev.attempts, 1);
  assert.equal(await count('runs', id), 0);
  const m = await markers(id);
  assert.equal(m.length, 1);
  assert.equal(m[0]!.reason, 'invalid_payload');
  assert.equal(m[0]!.payload, null, 'the hook got payload undefined');
  assert.deepEqual(m[0]!.rawPayload, { n: 'not a number', mode: 'ok' });
  assert.match(m[0]!.lastError, /^PermanentError: invalid payload/);
});

test('(e) the lease lost on the last attempt: the worker that takes over gives up, onGiveUp once', async () => {
  await Promise.all([worker('e1', { MAX_ATTEMPTS: '1' }), worker('e2', { MAX_ATTEMPTS: '1' })]);
  // Whoever claims it holds its event loop for 4 s (no renewal) against a 1 s lease, then throws.
  const id = await publishGiveUp({ n: 5, mode: 'block', blockMs: 4000 });
  await waitDead(id);
  const runs = await db()
    .collection<{ owner: string }>('runs')
    .find({ eventId: String(id) })
    .toArray();
  assert.equal(runs.length, 1, 'the handler ran once: on the only attempt, whose lease was lost');
  const ev = (await event(id))!;
  assert.equal(ev.deadReason, 'attempts_exhausted');
  // Usually 2 (the run, then the take-over that gives up). On a loaded machine the giving-up
  // worker's own 1 s lease can lapse before its give-up commits, and a third claim gives up
  // instead: every claim after the first is a recovery, and the handler still ran only once.
  assert.ok(ev.attempts >= 2, `attempts ${ev.attempts}`);
  assert.equal(ev.recoveries, ev.attempts - 1);
  const m = await markers(id);
  assert.equal(m.length, 1);
  assert.equal(m[0]!.reason, 'attempts_exhausted');
  assert.notEqual(m[0]!.owner, runs[0]!.owner, 'the other worker took the event over and gave up');
  // The stalled worker wakes up and throws; its give-up is refused (it lost the token). Stopping
  // both workers gracefully waits for that lane to finish.
  await waitFor(
    'the stalled handler to end',
    async () =>
      (await db()
        .collection('runs')
        .countDocuments({ eventId: String(id), unblockedAt: { $exists: true } })) === 1,
    { intervalMs: 100 },
  );
  await stopWorkers();
  assert.equal(await count('hook_calls', id), 1, 'the stalled worker never called onGiveUp');
  assert.equal((await markers(id)).length, 1);
  assert.equal((await event(id))!.state, 'dead');
});

test('(f) an onGiveUp that throws: the event is not dead, its writes roll back, the give-up is retried', async () => {
  await setHook({ fail: true });
  await worker('f', { MAX_ATTEMPTS: '1', BACKOFF_MS: '200' });
  const id = await publishGiveUp({ n: 6, mode: 'throw' });
  await waitFor('two failed give-ups', async () => (await count('hook_calls', id)) >= 2, { timeoutMs: 30_000, intervalMs: 50 });
  const failing = (await event(id))!;
  assert.notEqual(failing.state, 'dead');
  assert.equal(failing.deadReason, undefined);
  assert.deepEqual(failing.giveUp, { reason: 'handler_error', lastError: 'Error: boom on attempt 1' });
  assert.match(
    failing.errors[0]!.message,
    /^Error: boom on attempt 1; then giving up \(handler_error\) failed: Error: give-up hook failed on purpose/,
  );
  assert.equal((await markers(id)).length, 0, 'the marker written before the throw was rolled back');

  await setHook({ fail: false });
  await waitDead(id);
  const ev = (await event(id))!;
  assert.equal(ev.deadReason, 'handler_error', 'the reason of the first give-up is kept');
  assert.equal(ev.giveUp, undefined);
  assert.ok(ev.attempts >= 3);
  assert.equal(await count('runs', id), 1, 'a retried give-up runs the hook again, never the handler');
  const m = await markers(id);
  assert.equal(m.length, 1);
  assert.deepEqual(
    { reason: m[0]!.reason, lastError: m[0]!.lastError, attempts: m[0]!.attempts },
    { reason: 'handler_error', lastError: 'Error: boom on attempt 1', attempts: ev.attempts },
  );
});

test('(g) two workers racing to give up one event: one dead-lettering, one onGiveUp', async () => {
  // The hook outlasts the 1 s lease: the other worker sees the lease expired and tries to take
  // the event over (attempts 2 > maxAttempts 1 → it would give up too) while the first give-up runs.
  await setHook({ sleepMs: 3000 });
  await Promise.all([worker('g1', { MAX_ATTEMPTS: '1' }), worker('g2', { MAX_ATTEMPTS: '1' })]);
  const id = await publishGiveUp({ n: 7, mode: 'throw' });
  await waitFor(
    'the first give-up to run past the lease',
    async () => {
      const ev = await event(id);
      return (
        (await count('hook_calls', id)) === 1 &&
        ev?.state === 'processing' &&
        ev.leaseUntil !== undefined &&
        ev.leaseUntil.getTime() < Date.now() - 500
      );
    },
    { timeoutMs: 30_000, intervalMs: 50 },
  );
  await waitDead(id);
  // A graceful stop waits for every lane: a second give-up (and its 3 s hook) would finish first.
  await stopWorkers();
  const ev = (await event(id))!;
  assert.equal(ev.state, 'dead');
  assert.equal(ev.attempts, 1, 'nobody claimed it again');
  assert.equal(ev.deadReason, 'handler_error');
  assert.equal(await count('hook_calls', id), 1);
  assert.equal((await markers(id)).length, 1);
});
