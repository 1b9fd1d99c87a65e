// Durable before acknowledged, across a crash: partners submit loan requests through nginx to 3
// real API processes while one of them is killed with SIGKILL. Each client retries a request that
// failed in transit (a 502 from nginx, which never replays a POST) with the same Idempotency-Key,
// as a partner would. Afterwards every request that got a 202 exists in applications with its
// approval.requested outbox event, the answered id is the one stored under its key, and no key
// made two applications (a request the dead instance committed but never answered is a replay
// on retry, not a second application).
// Killing the mongod primary is out of reach here: the test mongod is a single-node replica set,
// so there is no other member to take over (issue 9's "kill the primary" needs a 3-member set).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture } from '../helpers/fixture.js';
import { asPartner, loanRequest, type TestPartner, testPartner } from '../helpers/partners.js';
import { boundedLoad, countBy } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('intakedurability', { stack: { instances: 3 } });
let p: TestPartner;

f.before(async () => {
  p = await testPartner(await f.client('admin'), undefined, 100_000);
});

/**
 * One logical request: the same key and body, at most `tries` attempts (backing off 100 ms,
 * doubling, at most 1 s) while nginx answers 502/503/504 or the connection fails.
 */
async function submitWithRetry(key: string, body: Record<string, unknown>, tries = 6) {
  const attempts: number[] = [];
  for (let i = 0; i < tries; i++) {
    const r = await asPartner(f.url, p.key, 'POST', '/api/loan/request', body, { 'idempotency-key': key }).catch(() => undefined);
    attempts.push(r?.status ?? 0);
    if (r && ![502, 503, 504].includes(r.status)) {
      return {
        status: r.status,
        attempts,
        id: r.status === 202 ? (r.body?.id as string) : undefined,
        replayed: r.headers.get('idempotent-replayed') === 'true',
        upstream: r.headers.get('x-upstream'),
      };
    }
    await new Promise((res) => setTimeout(res, Math.min(1000, 100 * 2 ** i)));
  }
  return { status: attempts.at(-1)!, attempts, id: undefined, replayed: false, upstream: null };
}

test('kill -9 of one API instance during intake: every 202 is stored with its event, no key makes two applications', async () => {
  const victim = f.stack.apis[1]!;
  const COUNT = 600;
  const KILL_AT = 150;
  let killedAt = -1;
  const servedByVictim = { before: 0 };
  const load = await boundedLoad(
    {
      count: COUNT,
      concurrency: 16,
      maxMs: 90_000,
      onProgress: (done) => {
        if (done === KILL_AT && killedAt < 0) {
          killedAt = done;
          victim.child.proc.kill('SIGKILL');
        }
      },
    },
    async (i) => {
      const key = `durability-${i}`;
      const body = loanRequest();
      const r = await submitWithRetry(key, body);
      if (killedAt < 0 && r.upstream === `127.0.0.1:${victim.port}`) servedByVictim.before++;
      return [r.status, { key, body, ...r }];
    },
  );
  assert.ok(killedAt > 0, 'the instance was killed mid-load');
  await waitFor('the killed instance to exit', () => victim.child.proc.signalCode !== null || victim.child.proc.exitCode !== null, {
    timeoutMs: 10_000,
  });
  assert.equal(victim.child.proc.signalCode, 'SIGKILL');
  assert.ok(servedByVictim.before > 0, 'the victim was serving intake before it was killed');
  assert.equal(load.statuses.length, COUNT, 'every request ran');

  // Only 202s (first answers or replays of a retried key); a key may exhaust its retries with 502 at worst.
  const byStatus = countBy(load.statuses);
  assert.deepEqual(
    Object.keys(byStatus).filter((s) => s !== '202' && s !== '502'),
    [],
    JSON.stringify(byStatus),
  );
  const acked = load.ok.filter((r) => r.id !== undefined);
  // Availability is not what this test is about (a loaded machine can exhaust a key's retries): most must get through.
  assert.ok(acked.length >= COUNT * 0.9, `acknowledged ${acked.length} of ${COUNT}: ${JSON.stringify(byStatus)}`);
  const retried = acked.filter((r) => r.attempts.length > 1);
  console.log(
    `intake durability: ${JSON.stringify(byStatus)}; ${retried.length} acknowledged after a retry (${retried.filter((r) => r.replayed).length} of them replays of a commit the dead instance never answered); victim served ${servedByVictim.before} before the kill`,
  );

  // A partner resending any acknowledged request (every retried one and every 20th) gets the same id back as a replay.
  const resend = acked.filter((r, i) => r.attempts.length > 1 || i % 20 === 0);
  // Resent after the load, when nginx may still probe the dead instance once per fail_timeout
  // (10 s): enough attempts to outlast one such window.
  for (const r of resend) {
    const again = await submitWithRetry(r.key, r.body, 14);
    assert.equal(again.status, 202, `${r.key}: ${again.attempts}`);
    assert.ok(again.replayed, `${r.key} answered as a replay`);
    assert.equal(again.id, r.id, r.key);
  }

  // Every 202'd id is stored, under the key it was answered for, with exactly one approval.requested event.
  const ids = acked.map((r) => r.id!);
  const stored = await f.t.c.applications.find({ _id: { $in: ids } }, { projection: { 'intake.idempotencyKey': 1 } }).toArray();
  const keyOf = new Map(stored.map((a) => [a._id, a.intake?.idempotencyKey]));
  const missing = acked.filter((r) => keyOf.get(r.id!) !== r.key);
  assert.deepEqual(missing, [], 'every acknowledged id is stored under its key');
  const events = await f.t.mongo.db
    .collection('events')
    .aggregate<{ _id: string; n: number }>([
      { $match: { type: 'approval.requested', 'payload.applicationId': { $in: ids } } },
      { $group: { _id: '$payload.applicationId', n: { $sum: 1 } } },
    ])
    .toArray();
  assert.equal(events.length, ids.length, 'every acknowledged id has its outbox event');
  assert.deepEqual(
    events.filter((e) => e.n !== 1),
    [],
    'one event per application',
  );

  // No key made two applications, and every application of this partner belongs to one of the load's keys.
  const perKey = await f.t.c.applications
    .aggregate<{ _id: string; n: number }>([
      { $match: { 'intake.partnerId': p.id } },
      { $group: { _id: '$intake.idempotencyKey', n: { $sum: 1 } } },
    ])
    .toArray();
  assert.deepEqual(
    perKey.filter((k) => k.n !== 1),
    [],
    'one application per key',
  );
  assert.ok(perKey.length >= acked.length && perKey.length <= COUNT, `${perKey.length} keys stored for ${acked.length} acknowledged`);
  assert.ok(
    perKey.every((k) => /^durability-\d+$/.test(k._id)),
    'only the load’s keys',
  );
});
