import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fixture } from '../helpers/fixture.js';
import type { Client } from '../helpers/http.js';
import { sampleApplication } from '../helpers/samples.js';

const f = fixture('applications', { api: true });
let reviewer: Client;
let checker: Client;
let viewer: Client;

f.before(async () => {
  reviewer = await f.client('reviewer');
  checker = await f.client('reviewer'); // approves what `reviewer` created (four-eyes)
  viewer = await f.client('viewer');
});

describe('create and read', () => {
  test('creates a submitted application at version 1 with a LOAN- tracking id and an audit entry', async () => {
    const a = await reviewer.create();
    assert.match(a.id, /^LOAN-[0-9A-Z]{26}$/);
    assert.equal(a.status, 'submitted');
    assert.equal(a.version, 1);
    const got = await viewer.get(`/api/applications/${a.id}`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body.applicant, sampleApplication().applicant);
    const h = await viewer.get(`/api/applications/${a.id}/history`);
    assert.equal(h.body.items.length, 1);
    assert.equal(h.body.items[0].action, 'create');
    assert.equal(h.body.items[0].toVersion, 1);
  });

  test('unknown id is 404 in the problem shape', async () => {
    const r = await viewer.get('/api/applications/LOAN-00000000000000000000000000');
    assert.equal(r.status, 404);
    assert.equal(r.body.status, 404);
    assert.equal(r.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  });
});

describe('optimistic versioning', () => {
  test('PUT with the current version applies, bumps the version and records old → new', async () => {
    const a = await reviewer.create();
    const r = await reviewer.put(`/api/applications/${a.id}`, { version: 1, amount: 30_000, applicant: { age: 37 } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.version, 2);
    assert.equal(r.body.amount, 30_000);
    assert.equal(r.body.applicant.age, 37);
    assert.equal(r.body.applicant.name, 'Ada Lovelace');
    const h = (await viewer.get(`/api/applications/${a.id}/history`)).body.items;
    assert.equal(h.length, 2);
    assert.deepEqual(h[1].changes.amount, { from: 25_000, to: 30_000 });
    assert.equal(h[1].fromVersion, 1);
    assert.equal(h[1].toVersion, 2);
  });

  test('a stale version gets 409 with the current version and document, and changes nothing', async () => {
    const a = await reviewer.create();
    await reviewer.put(`/api/applications/${a.id}`, { version: 1, purpose: 'car purchase' });
    const r = await reviewer.put(`/api/applications/${a.id}`, { version: 1, purpose: 'wedding' });
    assert.equal(r.status, 409);
    assert.equal(r.body.currentVersion, 2);
    assert.equal(r.body.current.purpose, 'car purchase');
    assert.equal((await f.t.c.applications.findOne({ _id: a.id }))!.purpose, 'car purchase');
  });

  test('100 concurrent PUTs with the same version: exactly one 200, 99 409s, version +1, one audit entry', async () => {
    const a = await reviewer.create();
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => reviewer.put(`/api/applications/${a.id}`, { version: 1, amount: 1000 + i })),
    );
    const codes = results.map((r) => r.status);
    assert.equal(codes.filter((c) => c === 200).length, 1, `codes: ${[...new Set(codes)]}`);
    assert.equal(codes.filter((c) => c === 409).length, 99);
    const doc = await f.t.c.applications.findOne({ _id: a.id });
    assert.equal(doc!.version, 2);
    const winner = results.find((r) => r.status === 200)!;
    assert.equal(doc!.amount, winner.body.amount);
    assert.equal(await f.t.c.audit.countDocuments({ entityId: a.id, action: { $ne: 'create' } }), 1);
  });

  test('an illegal status transition is 422 and changes nothing', async () => {
    const a = await reviewer.create();
    const r = await reviewer.put(`/api/applications/${a.id}`, { version: 1, status: 'disbursed' });
    assert.equal(r.status, 422);
    const doc = await f.t.c.applications.findOne({ _id: a.id });
    assert.equal(doc!.status, 'submitted');
    assert.equal(doc!.version, 1);
  });

  test('legal transitions submitted → under_review → approved', async () => {
    const a = await reviewer.create();
    assert.equal((await reviewer.put(`/api/applications/${a.id}`, { version: 1, status: 'under_review' })).status, 200);
    const r = await checker.put(`/api/applications/${a.id}`, { version: 2, status: 'approved' });
    assert.equal(r.status, 200);
    assert.equal(r.body.status, 'approved');
  });
});
