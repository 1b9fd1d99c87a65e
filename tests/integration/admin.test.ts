import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { acquire, release } from '../../lib/locks/index.js';
import { PermanentError, publish, startWorker, type WorkerHandle } from '../../lib/queue/index.js';
import { fakeApplication } from '../../scripts/seed.js';
import { silentLog } from '../helpers/db.js';
import { fixture } from '../helpers/fixture.js';
import { Client } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('admin', { api: true });
let admin: Client;
let reviewer: Client;
let viewer: Client;
let worker: WorkerHandle;
let failing = true;

const state = async (id: unknown) => (await f.t.mongo.db.collection('events').findOne({ _id: id as never }))?.state;

f.before(async () => {
  [admin, reviewer, viewer] = await Promise.all([f.client('admin'), f.client('reviewer'), f.client('viewer')]);
  const payload = z.object({ n: z.number() });
  worker = startWorker({
    db: f.t.mongo.db,
    concurrency: 1,
    log: silentLog,
    pollMs: 100,
    backoff: { baseMs: 10, factor: 1, capMs: 10 },
    jobs: [
      { type: 'test.ok', payload, handle: async (p) => p.n },
      {
        type: 'test.flaky',
        payload,
        handle: async () => {
          if (failing) throw new PermanentError('downstream refused');
          return 'ok';
        },
      },
    ],
  });
  f.after(() => worker.stop(1000));
});

describe('access', () => {
  const reads = ['/api/admin/queue-stats', '/api/admin/dead-letters', '/api/admin/locks'];
  const writes = [
    '/api/admin/dead-letters/retry',
    '/api/admin/dead-letters/purge',
    '/api/admin/queues/test.ok/pause',
    '/api/admin/queues/test.ok/resume',
    '/api/admin/dead-letters/0123456789abcdef01234567/retry',
  ];

  test('anonymous is 401; viewer and reviewer are 403 on every endpoint', async () => {
    const anon = new Client(f.url);
    for (const p of reads) assert.equal((await anon.get(p)).status, 401, p);
    for (const p of writes) assert.equal((await anon.post(p, {})).status, 401, p);
    for (const cl of [viewer, reviewer]) {
      for (const p of reads) assert.equal((await cl.get(p)).status, 403, p);
      for (const p of writes) assert.equal((await cl.post(p, {})).status, 403, p);
    }
  });

  test('an admin without the CSRF token is refused and nothing is paused', async () => {
    const r = await admin.req('POST', '/api/admin/queues/test.ok/pause', {}, { 'x-csrf-token': 'wrong' });
    assert.equal(r.status, 403);
    assert.equal(r.body.type, 'https://creditdesk.dev/problems/csrf_token_invalid');
    assert.equal(await f.t.mongo.db.collection('queue_controls').countDocuments({ paused: true }), 0);
  });
});

describe('bad input is 400 in the problem shape', () => {
  const cases: Array<[string, string, unknown?]> = [
    ['GET', '/api/admin/dead-letters?page=0'],
    ['GET', '/api/admin/dead-letters?limit=100000'],
    ['GET', '/api/admin/dead-letters?type=Bad%20Type!'],
    ['GET', '/api/admin/dead-letters?sort=x'],
    ['POST', '/api/admin/dead-letters/not-an-id/retry', {}],
    ['POST', '/api/admin/dead-letters/0123456789abcdef01234567/retry', { force: true }],
    ['POST', '/api/admin/dead-letters/retry', { type: { $ne: '' } }],
    ['POST', '/api/admin/dead-letters/retry', { all: false }],
    ['POST', '/api/admin/dead-letters/retry', { all: true, type: 'test.flaky' }],
    ['POST', '/api/admin/dead-letters/retry', {}],
    ['POST', '/api/admin/dead-letters/purge', {}],
    ['POST', '/api/admin/dead-letters/purge', { all: true, olderThanMinutes: 5 }],
    ['POST', '/api/admin/dead-letters/purge', { olderThanMinutes: -1 }],
    ['GET', '/api/admin/audit?entity=nope'],
    ['GET', '/api/admin/audit?cursor=xyz'],
    ['POST', '/api/admin/dead-letters/purge', { olderThanMinutes: '5' }],
    ['POST', '/api/admin/queues/BAD$TYPE/pause', {}],
  ];
  for (const [method, path, body] of cases) {
    test(`${method} ${path} ${body ? JSON.stringify(body) : ''}`, async () => {
      const r = await admin.req(method, path, body);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.status, 400);
      assert.ok(Array.isArray(r.body.errors));
    });
  }
  test('retrying an id that is not a dead letter is 404', async () => {
    assert.equal((await admin.post('/api/admin/dead-letters/0123456789abcdef01234567/retry', {})).status, 404);
  });
});

describe('operations', () => {
  test('pause holds a type back while others run; resume lets it run', async () => {
    await worker.stop(1000); // a fresh worker reads the paused set before its first claim
    assert.equal((await admin.post('/api/admin/queues/test.ok/pause', {})).status, 200);
    assert.deepEqual((await admin.get('/api/admin/queue-stats')).body.paused, ['test.ok']);
    const held = await publish(f.t.mongo.db, 'test.ok', { n: 1 });
    worker = startWorker({
      db: f.t.mongo.db,
      concurrency: 1,
      log: silentLog,
      pollMs: 100,
      jobs: [
        { type: 'test.ok', payload: z.object({ n: z.number() }), handle: async (p) => p.n },
        { type: 'test.other', payload: z.object({}), handle: async () => 'ok' },
      ],
    });
    const other = await publish(f.t.mongo.db, 'test.other', {});
    await waitFor('the unpaused type to run', async () => (await state(other.id)) === 'completed');
    assert.equal(await state(held.id), 'pending', 'the paused type did not run although it was older');
    const stats = (await admin.get('/api/admin/queue-stats')).body;
    assert.equal(stats.types['test.ok'].pending, 1);
    assert.equal((await admin.post('/api/admin/queues/test.ok/resume', {})).status, 200);
    await waitFor('the resumed type to run', async () => (await state(held.id)) === 'completed');
    assert.deepEqual((await admin.get('/api/admin/queue-stats')).body.paused, []);
  });

  test('a dead letter is listed and retried through the API', async () => {
    await worker.stop(1000);
    worker = startWorker({
      db: f.t.mongo.db,
      concurrency: 1,
      log: silentLog,
      pollMs: 100,
      jobs: [
        {
          type: 'test.flaky',
          payload: z.object({ n: z.number() }),
          handle: async () => {
            if (failing) throw new PermanentError('downstream refused');
            return 'ok';
          },
        },
      ],
    });
    failing = true;
    const ev = await publish(f.t.mongo.db, 'test.flaky', { n: 1 });
    await waitFor('the event to be dead-lettered', async () => (await state(ev.id)) === 'dead');
    const list = await admin.get('/api/admin/dead-letters?type=test.flaky&page=1&limit=10');
    assert.equal(list.status, 200);
    assert.equal(list.body.total, 1);
    assert.equal(String(list.body.items[0]._id), String(ev.id));
    assert.match(list.body.items[0].errors[0].message, /downstream refused/);
    failing = false;
    const r = await admin.post(`/api/admin/dead-letters/${ev.id}/retry`, {});
    assert.equal(r.status, 200);
    await waitFor('the retried event to complete', async () => (await state(ev.id)) === 'completed');
    assert.equal((await admin.post(`/api/admin/dead-letters/${ev.id}/retry`, {})).status, 404, 'no longer a dead letter');
  });

  test('bulk retry by type and purge by type', async () => {
    failing = true;
    const evs = [await publish(f.t.mongo.db, 'test.flaky', { n: 2 }), await publish(f.t.mongo.db, 'test.flaky', { n: 3 })];
    await waitFor('both dead', async () => (await Promise.all(evs.map((e) => state(e.id)))).every((s) => s === 'dead'));
    assert.equal((await admin.post('/api/admin/dead-letters/purge', { type: 'test.other' })).body.purged, 0);
    assert.equal((await admin.post('/api/admin/dead-letters/retry', { type: 'test.flaky' })).body.retried, 2);
    await waitFor('both dead again', async () => (await Promise.all(evs.map((e) => state(e.id)))).every((s) => s === 'dead'));
    assert.equal((await admin.post('/api/admin/dead-letters/purge', { type: 'test.flaky', olderThanMinutes: 0 })).body.purged, 2);
    assert.equal((await admin.get('/api/admin/dead-letters?type=test.flaky')).body.total, 0);
  });

  test('bulk retry/purge without an explicit filter or all:true touch nothing, whatever the body type', async () => {
    failing = true;
    const ev = await publish(f.t.mongo.db, 'test.flaky', { n: 9 });
    await waitFor('the event to be dead-lettered', async () => (await state(ev.id)) === 'dead');
    const bodies: Array<[string, Record<string, string>]> = [
      ['', {}],
      ['{"all":true}', { 'content-type': 'text/plain' }],
      ['all=true', { 'content-type': 'application/x-www-form-urlencoded' }],
      ['{"type":"test.flaky"}', { 'content-type': 'application/vnd.api+json' }],
    ];
    for (const path of ['/api/admin/dead-letters/purge', '/api/admin/dead-letters/retry']) {
      for (const [body, headers] of bodies) {
        const r = await admin.req('POST', path, body === '' ? undefined : body, headers);
        assert.ok(r.status === 400 || r.status === 415, `${path} ${body} ${JSON.stringify(headers)}: ${r.status}`);
      }
    }
    assert.equal(await state(ev.id), 'dead', 'neither retried nor purged');
    const all = await admin.post('/api/admin/dead-letters/purge', { all: true });
    assert.equal(all.status, 200, JSON.stringify(all.body));
    assert.ok(all.body.purged >= 1);
    assert.equal(await state(ev.id), undefined);
  });

  test('dead disbursement events are purged only once their application is final', async () => {
    const open = fakeApplication();
    open.status = 'disbursing';
    const done = fakeApplication();
    done.status = 'disbursed';
    await f.t.c.applications.insertMany([open, done]);
    const dead = { state: 'dead', deadAt: new Date(0) };
    const events = f.t.mongo.db.collection('events');
    const [a, b] = [
      await publish(f.t.mongo.db, 'disbursement.requested', { applicationId: open._id }),
      await publish(f.t.mongo.db, 'disbursement.requested', { applicationId: done._id }),
    ];
    await events.updateMany({ _id: { $in: [a.id, b.id] } }, { $set: dead });
    for (const body of [{ type: 'disbursement.requested' }, { olderThanMinutes: 1 }, { all: true }]) {
      const r = await admin.post('/api/admin/dead-letters/purge', body);
      assert.equal(r.status, 409, JSON.stringify(r.body));
      assert.equal(r.body.type, 'https://creditdesk.dev/problems/disbursement_not_final');
      assert.deepEqual(r.body.applications, [{ id: open._id, status: 'disbursing' }]);
    }
    assert.equal(await events.countDocuments({ _id: { $in: [a.id, b.id] }, state: 'dead' }), 2, 'nothing purged');
    await f.t.c.applications.updateOne({ _id: open._id }, { $set: { status: 'disbursed' } });
    const r = await admin.post('/api/admin/dead-letters/purge', { type: 'disbursement.requested' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.purged, 2);
  });

  test('retries, purges, pauses and resumes are audited with actor and request id, readable by admins only', async () => {
    await admin.post('/api/admin/queues/test.audit/pause', {});
    await admin.post('/api/admin/queues/test.audit/resume', {});
    await admin.post('/api/admin/dead-letters/retry', { type: 'test.audit' });
    const purge = await admin.req('POST', '/api/admin/dead-letters/purge', { type: 'test.audit' }, { 'x-request-id': 'req-audit-1' });
    assert.equal(purge.status, 200);
    const r = await admin.get('/api/admin/audit?entity=queue&limit=10');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const queue = r.body.items.filter((e: { entityId: string }) => e.entityId === 'test.audit');
    assert.deepEqual(
      queue.map((e: { action: string }) => e.action),
      ['queue.resumed', 'queue.paused'],
    );
    for (const e of queue) {
      assert.equal(e.actor.email, admin.email);
      assert.ok(e.requestId, 'request id recorded');
    }
    const dl = (await admin.get('/api/admin/audit?entity=dead_letter&action=dead_letters.purged')).body.items;
    const mine = dl.find((e: { entityId: string }) => e.entityId === 'test.audit');
    assert.ok(mine, JSON.stringify(dl));
    assert.deepEqual(mine.details, { filter: { type: 'test.audit' }, purged: 0 });
    const retried = (await admin.get('/api/admin/audit?action=dead_letters.retried&limit=100')).body.items;
    assert.ok(retried.some((e: { entityId: string }) => e.entityId === 'test.audit'));
    const page1 = await admin.get('/api/admin/audit?entity=queue&limit=1');
    assert.equal(page1.body.items.length, 1);
    const page2 = await admin.get(`/api/admin/audit?entity=queue&limit=1&cursor=${page1.body.next}`);
    assert.notEqual(page2.body.items[0]._id, page1.body.items[0]._id);
    assert.equal((await reviewer.get('/api/admin/audit')).status, 403);
  });

  test('held locks are listed', async () => {
    const lease = await acquire(f.t.mongo.db, 'loan:LOAN-TEST', 30_000, { owner: 'admin-test' });
    try {
      const r = await admin.get('/api/admin/locks');
      assert.equal(r.status, 200);
      const item = r.body.items.find((l: { key: string }) => l.key === 'loan:LOAN-TEST');
      assert.equal(item.owner, 'admin-test');
      assert.equal(item.fence, lease!.fence);
    } finally {
      await release(f.t.mongo.db, lease!);
    }
  });
});
