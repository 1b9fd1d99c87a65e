import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture } from '../helpers/fixture.js';
import type { Client } from '../helpers/http.js';
import { sampleApplication } from '../helpers/samples.js';

const f = fixture('batch', { api: true });
let reviewer: Client;

f.before(async () => {
  reviewer = await f.client('reviewer');
});

test('batch-update reports updated, conflict, not_found and invalid_transition per id', async () => {
  const [a, b, c, d] = [await reviewer.create(), await reviewer.create(), await reviewer.create(), await reviewer.create()];
  await reviewer.put(`/api/applications/${b.id}`, { version: 1, purpose: 'changed' }); // b now at v2
  await reviewer.put(`/api/applications/${c.id}`, { version: 1, status: 'rejected' }); // c is terminal
  const missing = 'LOAN-00000000000000000000000000';
  const r = await reviewer.post('/api/applications/batch-update', {
    applicationIds: [a.id, b.id, c.id, missing, d.id],
    status: 'under_review',
    versions: { [b.id]: 1, [a.id]: 1 },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const byId = Object.fromEntries(r.body.results.map((x: { id: string; result: string }) => [x.id, x.result]));
  assert.deepEqual(byId, {
    [a.id]: 'updated',
    [b.id]: 'conflict',
    [c.id]: 'invalid_transition',
    [missing]: 'not_found',
    [d.id]: 'updated',
  });
  assert.deepEqual(r.body.summary, { updated: 2, unchanged: 0, conflict: 1, not_found: 1, invalid_transition: 1, refused: 0 });
  for (const [id, status, version] of [
    [a.id, 'under_review', 2],
    [b.id, 'submitted', 2],
    [c.id, 'rejected', 2],
    [d.id, 'under_review', 2],
  ] as const) {
    const doc = await f.t.c.applications.findOne({ _id: id });
    assert.equal(doc!.status, status, id);
    assert.equal(doc!.version, version, id);
  }
  assert.equal(await f.t.c.audit.countDocuments({ entityId: { $in: [a.id, d.id] }, action: 'status' }), 2);
});

test('a same-status change means the same in batch-update as in PUT: unchanged, version kept, nothing audited', async () => {
  const a = await reviewer.create();
  await reviewer.put(`/api/applications/${a.id}`, { version: 1, status: 'under_review' }); // v2
  const put = await reviewer.put(`/api/applications/${a.id}`, { version: 2, status: 'under_review' });
  assert.equal(put.status, 200);
  assert.equal(put.body.version, 2, 'PUT of the current status is a no-op');
  const r = await reviewer.post('/api/applications/batch-update', { applicationIds: [a.id], status: 'under_review' });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.results, [{ id: a.id, result: 'unchanged', version: 2 }]);
  assert.equal(r.body.summary.unchanged, 1);
  assert.equal((await f.t.c.applications.findOne({ _id: a.id }))!.version, 2);
  assert.equal(await f.t.c.audit.countDocuments({ entityId: a.id }), 2, 'create + the one real change');
});

test('batch-update of 300 applications runs in one request and updates all', async () => {
  const ids = (
    await f.t.c.applications.insertMany(
      Array.from({ length: 300 }, (_, i) => ({
        ...sampleApplication(),
        _id: `LOAN-01BATCH${String(i).padStart(19, '0')}`,
        status: 'submitted' as const,
        version: 1,
        createdAt: new Date(),
        updatedAt: new Date(),
        updatedBy: { id: 'x', email: 'x@x' },
      })),
    )
  ).insertedIds;
  const r = await reviewer.post('/api/applications/batch-update', { applicationIds: Object.values(ids), status: 'under_review' });
  assert.equal(r.status, 200);
  assert.equal(r.body.summary.updated, 300);
  assert.equal(await f.t.c.applications.countDocuments({ _id: { $in: Object.values(ids) }, status: 'under_review', version: 2 }), 300);
});

test('batch-update above the size limit is 400 and changes nothing', async () => {
  const a = await reviewer.create();
  const r = await reviewer.post('/api/applications/batch-update', { applicationIds: Array(501).fill(a.id), status: 'under_review' });
  assert.equal(r.status, 400);
  assert.equal((await f.t.c.applications.findOne({ _id: a.id }))!.version, 1);
});

test('a `versions` map with __proto__, constructor or prototype keys is 400, never an unpinned update', async () => {
  const a = await reviewer.create();
  for (const key of ['__proto__', 'constructor', 'prototype']) {
    const body = `{"applicationIds":["${a.id}"],"status":"under_review","versions":{"${key}":{"${a.id}":7},"${a.id}":1}}`;
    const r = await reviewer.req('POST', '/api/applications/batch-update', body);
    assert.equal(r.status, 400, `${key}: ${JSON.stringify(r.body)}`);
    assert.ok(JSON.stringify(r.body.errors).includes(key), JSON.stringify(r.body));
  }
  const doc = await f.t.c.applications.findOne({ _id: a.id });
  assert.equal(doc!.version, 1, 'nothing applied');
});
