import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeCursor } from '../../lib/domain/applications/cursor.js';
import { listQuery, sortSpec } from '../../lib/domain/applications/repository.js';
import { SORTS } from '../../lib/domain/applications/schemas.js';
import { fakeApplication } from '../../scripts/seed.js';
import { fixture } from '../helpers/fixture.js';
import type { Client } from '../helpers/http.js';

const f = fixture('listing', { api: true });
let viewer: Client;

f.before(async () => {
  const docs = Array.from({ length: 250 }, () => fakeApplication());
  docs.forEach((d, i) => {
    d.status = i % 5 === 0 ? 'approved' : 'submitted';
    d.amount = 1000 * ((i % 37) + 1);
  });
  await f.t.c.applications.insertMany(docs);
  viewer = await f.client('viewer');
});

describe('GET /api/applications', () => {
  test('pages through every item exactly once in a stable order with the right total', async () => {
    const seen: string[] = [];
    for (let page = 1; page <= 6; page++) {
      const r = await viewer.get(`/api/applications?page=${page}&limit=50&sort=amount`);
      assert.equal(r.status, 200);
      assert.equal(r.body.total, 250);
      assert.equal(r.body.page, page);
      assert.equal(r.body.limit, 50);
      seen.push(...r.body.items.map((i: { id: string }) => i.id));
    }
    assert.equal(seen.length, 250);
    assert.equal(new Set(seen).size, 250);
    const amounts = (await Promise.all(seen.map((id) => f.t.c.applications.findOne({ _id: id })))).map((d) => d!.amount);
    assert.deepEqual(
      amounts,
      [...amounts].sort((a, b) => a - b),
    );
  });

  test('filters by status and sorts newest first by default', async () => {
    const r = await viewer.get('/api/applications?status=approved&limit=100');
    assert.equal(r.status, 200);
    assert.equal(r.body.total, 50);
    assert.equal(r.body.items.length, 50);
    assert.ok(r.body.items.every((i: { status: string }) => i.status === 'approved'));
    const times = r.body.items.map((i: { createdAt: string }) => Date.parse(i.createdAt));
    assert.deepEqual(
      times,
      [...times].sort((a: number, b: number) => b - a),
    );
  });

  test('limit is capped and a page past the end is empty', async () => {
    assert.equal((await viewer.get('/api/applications?limit=1000')).status, 400);
    const r = await viewer.get('/api/applications?page=99&limit=100');
    assert.equal(r.body.next, null, 'an empty page has no continuation');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.items, []);
    assert.equal(r.body.total, 250);
  });

  test('keyset: `after` pages through every item exactly once in every sort, with or without a status', async () => {
    for (const sort of SORTS) {
      for (const status of ['', 'approved']) {
        const q = `sort=${sort}&limit=40${status ? `&status=${status}` : ''}`;
        const seen: string[] = [];
        let r = await viewer.get(`/api/applications?${q}`);
        const all: number = r.body.total;
        assert.ok(all > 40, 'more than one page');
        for (let n = 0; n < 20; n++) {
          assert.equal(r.status, 200, JSON.stringify(r.body));
          seen.push(...r.body.items.map((i: { id: string }) => i.id));
          if (!r.body.next) break;
          r = await viewer.get(`/api/applications?${q}&after=${r.body.next}`);
          assert.equal(r.body.page, null);
        }
        assert.equal(seen.length, all, `${q}: every item`);
        assert.equal(new Set(seen).size, all, `${q}: no item twice`);
        const docs = await f.t.c.applications
          .find(status ? { status: 'approved' } : {})
          .sort(sortSpec(sort))
          .project<{ _id: string }>({ _id: 1 })
          .toArray();
        assert.deepEqual(
          seen,
          docs.map((d) => d._id),
          `${q}: in the sort order`,
        );
      }
    }
  });

  test('page is bounded; deeper pages use `after`; a bad or foreign cursor is 400', async () => {
    assert.equal((await viewer.get('/api/applications?page=100&limit=1')).status, 200);
    const deep = await viewer.get('/api/applications?page=101&limit=1');
    assert.equal(deep.status, 400);
    assert.match(JSON.stringify(deep.body.errors), /after/);
    const first = await viewer.get('/api/applications?sort=amount&limit=5');
    const next = first.body.next as string;
    assert.ok(next);
    const bad = [
      'not-a-cursor',
      Buffer.from('{"s":"amount","v":{"$gt":0},"id":"LOAN-00000000000000000000000000"}').toString('base64url'),
      Buffer.from('{"s":"amount","v":5,"id":"LOAN-00000000000000000000000000","x":1}').toString('base64url'),
      Buffer.from('{"s":"amount","v":"2020-01-01T00:00:00Z","id":"LOAN-00000000000000000000000000"}').toString('base64url'),
    ];
    for (const after of bad) assert.equal((await viewer.get(`/api/applications?sort=amount&after=${after}`)).status, 400, after);
    assert.equal((await viewer.get(`/api/applications?sort=-createdAt&after=${next}`)).status, 400, 'a cursor of another sort');
    assert.equal((await viewer.get(`/api/applications?sort=amount&page=2&after=${next}`)).status, 400, 'page and after together');
  });

  test('total is counted once per LIST_TOTAL_CACHE_MS and filter; items are always fresh', async () => {
    const cached = await f.startApi({ LIST_TOTAL_CACHE_MS: '600' });
    try {
      const c = await f.client('viewer', cached.url);
      const before = (await c.get('/api/applications?status=rejected&limit=5')).body;
      const added = fakeApplication();
      added.status = 'rejected';
      added.createdAt = new Date(); // the newest, so first on the default sort
      await f.t.c.applications.insertOne(added);
      const soon = (await c.get('/api/applications?status=rejected&limit=5')).body;
      assert.equal(soon.total, before.total, 'within the window the total is the cached count');
      assert.equal(soon.items[0].id, added._id, 'but the page itself is read fresh');
      const other = (await c.get('/api/applications?limit=5')).body;
      assert.equal(other.total, 251, 'another filter has its own count');
      await new Promise((r) => setTimeout(r, 650));
      assert.equal(
        (await c.get('/api/applications?status=rejected&limit=5')).body.total,
        before.total + 1,
        'after the window it is counted again',
      );
    } finally {
      await cached.stop();
      await f.t.c.applications.deleteMany({ status: 'rejected' });
    }
  });

  test('every filter and sort combination is served by an index (no in-memory sort, no collection scan)', async () => {
    for (const sort of SORTS) {
      for (const filter of [{}, { status: 'approved' as const }]) {
        const plan = await f.t.c.applications.find(filter).sort(sortSpec(sort)).limit(20).explain('queryPlanner');
        const stages = JSON.stringify(plan.queryPlanner.winningPlan);
        assert.ok(stages.includes('IXSCAN'), `${sort} ${JSON.stringify(filter)}: ${stages}`);
        assert.ok(!stages.includes('"SORT"') && !stages.includes('COLLSCAN'), `${sort} ${JSON.stringify(filter)}: ${stages}`);
      }
    }
    // Keyset pages: the same indexes, a range on the sort field, still no in-memory sort.
    const last = await f.t.c.applications.find({}).sort({ amount: 1 }).skip(100).limit(1).next();
    for (const sort of SORTS) {
      const value = sort.includes('amount') ? last!.amount : sort.includes('updated') ? last!.updatedAt : last!.createdAt;
      const after = decodeCursor(
        Buffer.from(JSON.stringify({ s: sort, v: value instanceof Date ? value.toISOString() : value, id: last!._id })).toString(
          'base64url',
        ),
        sort,
      );
      for (const status of [undefined, 'approved' as const]) {
        const plan = await listQuery(f.t.c, { sort, status, page: 1, limit: 20, after }).explain('queryPlanner');
        const stages = JSON.stringify(plan.queryPlanner.winningPlan);
        assert.ok(stages.includes('IXSCAN'), `after ${sort} ${status}: ${stages}`);
        assert.ok(
          !stages.includes('"SORT"') && !stages.includes('COLLSCAN') && !stages.includes('"OR"'),
          `after ${sort} ${status}: ${stages}`,
        );
      }
    }
    const count = await f.t.mongo.db.command({
      explain: { count: 'applications', query: { status: 'approved' } },
      verbosity: 'queryPlanner',
    });
    assert.ok(!JSON.stringify(count.queryPlanner.winningPlan).includes('COLLSCAN'));
  });
});
