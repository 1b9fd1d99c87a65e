// Lease locks in one process: fail-fast and waiting acquire, takeover after expiry, tokens on
// renew/release, fencing numbers that only grow, withLock renewal and loss.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { acquire, listLocks, locksCollection, LockUnavailableError, release, renew, withLock } from '../../lib/locks/index.js';
import { fixture } from '../helpers/fixture.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('locks');

test('a held lock is refused (fail fast); waitMs gets it once released; release needs the token', async () => {
  const db = f.t.mongo.db;
  const a = await acquire(db, 'k1', 10_000, { owner: 'a' });
  assert.ok(a);
  assert.equal(a.fence, 1);
  assert.equal(await acquire(db, 'k1', 10_000, { owner: 'b' }), null);
  assert.equal(await release(db, { ...a, token: 'not-the-token' }), false);
  const waiting = acquire(db, 'k1', 10_000, { owner: 'b', waitMs: 10_000 });
  await sleep(150);
  assert.equal(await release(db, a), true);
  const b = await waiting;
  assert.ok(b);
  assert.equal(b.fence, 2);
  assert.equal(await release(db, a), false, 'the old token no longer releases');
  assert.deepEqual(
    (await listLocks(db)).map((l) => [l.key, l.owner, l.fence]),
    [['k1', 'b', 2]],
  );
  assert.equal(await release(db, b), true);
  assert.deepEqual(await listLocks(db), [], 'released locks are not listed');
  assert.equal((await locksCollection(db).findOne({ _id: 'k1' }))?.fence, 2, 'the document and its fence stay');
});

test('an expired lock is taken over; fences strictly increase; the stale holder cannot renew', async () => {
  const db = f.t.mongo.db;
  const fences: number[] = [];
  const stale = (await acquire(db, 'k2', 200, { owner: 'stale' }))!;
  fences.push(stale.fence);
  await sleep(400);
  const fresh = (await acquire(db, 'k2', 10_000, { owner: 'fresh' }))!;
  assert.ok(fresh, 'taken over after expiry');
  fences.push(fresh.fence);
  assert.equal(await renew(db, stale, 10_000), null, 'the stale holder cannot renew');
  const renewed = (await renew(db, fresh, 10_000))!;
  assert.equal(renewed.fence, fresh.fence);
  assert.ok(renewed.expiresAt >= fresh.expiresAt);
  let cur = renewed;
  for (let i = 0; i < 5; i++) {
    assert.equal(await release(db, cur), true);
    cur = (await acquire(db, 'k2', 10_000))!;
    fences.push(cur.fence);
  }
  await release(db, cur);
  assert.ok(
    fences.every((f, i) => i === 0 || f > fences[i - 1]!),
    `fences grow: ${fences}`,
  );
});

test('withLock runs, releases in finally (also on throw), and refuses when held', async () => {
  const db = f.t.mongo.db;
  assert.equal(
    await withLock(db, 'k3', 5000, async (l) => {
      assert.equal(l.signal.aborted, false);
      return l.fence;
    }),
    1,
  );
  await assert.rejects(
    withLock(db, 'k3', 5000, async () => {
      throw new Error('inside');
    }),
    /inside/,
  );
  assert.deepEqual(await listLocks(db), []);
  const held = (await acquire(db, 'k3', 5000))!;
  await assert.rejects(
    withLock(db, 'k3', 5000, async () => 'never'),
    LockUnavailableError,
  );
  await release(db, held);
});

test('withLock renews a long critical section and aborts its signal when the lock is lost', async () => {
  const db = f.t.mongo.db;
  const outcome = await withLock(db, 'k4', 300, async (l) => {
    await sleep(900); // three lease lengths: only renewal keeps it
    assert.equal(l.signal.aborted, false, String(l.signal.reason));
    assert.equal((await listLocks(db)).find((x) => x.key === 'k4')?.fence, l.fence);
    // An operator breaks the lock (expired, token gone: our renewals now fail) and someone takes it.
    await locksCollection(db).updateOne({ _id: 'k4' }, { $set: { expiresAt: new Date(0), token: 'broken' } });
    const thief = await acquire(db, 'k4', 10_000, { owner: 'thief' });
    assert.ok(thief);
    await waitFor('the signal to abort', () => l.signal.aborted, { timeoutMs: 5000, intervalMs: 20 });
    return 'aborted';
  });
  assert.equal(outcome, 'aborted');
  assert.equal((await listLocks(db)).find((x) => x.key === 'k4')?.owner, 'thief', "the loser's release did not free the thief's lock");
});
