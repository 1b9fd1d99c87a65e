import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sortSpec } from '../../lib/domain/applications/repository.js';
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
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.items, []);
    assert.equal(r.body.total, 250);
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
    const count = await f.t.mongo.db.command({
      explain: { count: 'applications', query: { status: 'approved' } },
      verbosity: 'queryPlanner',
    });
    assert.ok(!JSON.stringify(count.queryPlanner.winningPlan).includes('COLLSCAN'));
  });
});
