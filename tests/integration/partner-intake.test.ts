// Partner intake on one in-process API: admin key management, submission and idempotent replays,
// object-level authorization between partners, key revocation and rotation, the decision of a
// submitted request by a real approval worker.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderDocument } from '../fixtures/documents/render.js';
import { fixture } from '../helpers/fixture.js';
import type { Client, Res } from '../helpers/http.js';
import { asPartner, loanRequest, type TestPartner, testPartner } from '../helpers/partners.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('partners', { api: true });
let admin: Client;
let a: TestPartner;
let b: TestPartner;

f.before(async () => {
  admin = await f.client('admin');
  a = await testPartner(admin, 'Broker A');
  b = await testPartner(admin, 'Broker B');
});

/** One real approval worker for the file, started by the first test that needs it. */
let approval: Promise<unknown> | undefined;
const approvalWorker = () => (approval ??= f.worker('approval'));

const submit = (p: TestPartner, body: unknown, headers: Record<string, string> = {}) =>
  asPartner(f.url, p.key, 'POST', '/api/loan/request', body, headers);

test('admins manage partners and keys; the key is shown once and stored only as a hash', async () => {
  const list = await admin.get('/api/partners');
  assert.equal(list.status, 200);
  const pa = list.body.items.find((p: { id: string }) => p.id === a.id);
  assert.equal(pa.name, 'Broker A');
  assert.equal(pa.rateLimitPerSecond, 1000);
  assert.equal(pa.keys.length, 1);
  assert.equal(pa.keys[0].key, undefined);
  assert.match(a.key, /^cdk_live_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}$/);
  const stored = await f.t.c.partnerKeys.findOne({});
  assert.ok(stored);
  assert.ok(!JSON.stringify(stored).includes(a.key.slice(9, 41)), 'the key itself is never stored');
  const audit = await f.t.c.audit.find({ entity: 'partner', entityId: a.id }).toArray();
  assert.deepEqual(audit.map((e) => e.action).sort(), ['create', 'key.issue']);
  // not for reviewers, not with a partner key
  const reviewer = await f.client('reviewer');
  assert.equal((await reviewer.get('/api/partners')).status, 403);
  assert.equal((await asPartner(f.url, a.key, 'GET', '/api/partners')).status, 401);
});

test('a submission is 202 with a Location; a replay returns the same answer; another body under the key is 422', async () => {
  const body = loanRequest();
  const first = await submit(a, body);
  assert.equal(first.status, 202, JSON.stringify(first.body));
  assert.equal(first.body.status, 'processing');
  assert.equal(first.body.statusUrl, `/api/loan/request/${first.body.id}`);
  assert.equal(first.headers.get('location'), first.body.statusUrl);
  assert.equal(first.headers.get('idempotent-replayed'), null);

  const doc = await f.t.c.applications.findOne({ _id: first.body.id });
  assert.equal(doc?.status, 'scoring');
  assert.equal(doc?.intake?.partnerId, a.id);
  assert.equal(doc?.intake?.loanId, body.loanId);
  assert.equal(doc?.createdBy?.id, `partner:${a.id}`);
  const event = await f.t.mongo.db.collection('events').findOne({ type: 'approval.requested', 'payload.applicationId': first.body.id });
  assert.ok(event, 'the approval job is published with the application');

  // the same body with its keys in another order is the same request
  const { loanId, application, ...rest } = body;
  const replay = await submit(a, { ...rest, application, loanId });
  assert.equal(replay.status, 202);
  assert.deepEqual(replay.body, first.body);
  assert.equal(replay.headers.get('idempotent-replayed'), 'true');
  assert.equal(replay.headers.get('location'), first.body.statusUrl);

  const other = await submit(a, { ...body, amount: 25_000 });
  assert.equal(other.status, 422);
  assert.equal(other.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  assert.equal(other.body.type, 'https://creditdesk.dev/problems/idempotency_key_reused');
  assert.equal(await f.t.c.applications.countDocuments({ 'intake.loanId': body.loanId }), 1);
});

test('the Idempotency-Key header is the key when given; keys are scoped per partner', async () => {
  const key = `idem-${Date.now()}`;
  const one = await submit(a, loanRequest(), { 'idempotency-key': key });
  const two = await submit(a, loanRequest(), { 'idempotency-key': `${key}-2` });
  assert.equal(one.status, 202);
  assert.equal(two.status, 202);
  assert.notEqual(one.body.id, two.body.id, 'two keys, two applications');
  // the same key with another loanId (another body) → 422
  assert.equal((await submit(a, loanRequest(), { 'idempotency-key': key })).status, 422);
  // partner B's identical key and body is B's own, new application
  const body = loanRequest();
  const fromA = await submit(a, body, { 'idempotency-key': 'shared-key' });
  const fromB = await submit(b, body, { 'idempotency-key': 'shared-key' });
  assert.equal(fromA.status, 202);
  assert.equal(fromB.status, 202);
  assert.equal(fromB.headers.get('idempotent-replayed'), null);
  assert.notEqual(fromA.body.id, fromB.body.id);
});

test('a partner reads its own applications only: another partner’s id is 404', async () => {
  const mine = await submit(a, loanRequest({ creditScore: 700 }));
  const got = await asPartner(f.url, a.key, 'GET', mine.body.statusUrl);
  assert.equal(got.status, 200);
  assert.deepEqual(Object.keys(got.body).sort(), ['id', 'loanId', 'reasons', 'status', 'updatedAt', 'version']);
  assert.equal(got.body.status, 'scoring');
  assert.equal(got.body.version, 1);
  const theirs = await asPartner(f.url, b.key, 'GET', mine.body.statusUrl);
  assert.equal(theirs.status, 404);
  assert.equal(theirs.body.type, 'https://creditdesk.dev/problems/not_found');
  // an admin-created application is no partner's
  const reviewer = await f.client('reviewer');
  const own = await reviewer.create();
  assert.equal((await asPartner(f.url, a.key, 'GET', `/api/loan/request/${own.id}`)).status, 404);
});

test('partner routes take a bearer key only: no key, a session cookie, garbage or a revoked key are 401', async () => {
  const body = loanRequest();
  const noKey = await admin.post('/api/loan/request', body); // session cookie + CSRF token, no bearer
  assert.equal(noKey.status, 401);
  assert.match(noKey.headers.get('www-authenticate') ?? '', /^Bearer/);
  for (const bad of ['garbage', 'cdk_live_x', `${a.key.slice(0, -1)}${a.key.endsWith('A') ? 'B' : 'A'}`]) {
    assert.equal((await submit({ ...a, key: bad }, body)).status, 401, bad);
  }
  const basic = await asPartner(f.url, a.key, 'POST', '/api/loan/request', body, { authorization: `Basic ${a.key}` });
  assert.equal(basic.status, 401);
  assert.equal(await f.t.c.applications.countDocuments({ 'intake.loanId': body.loanId }), 0);
});

test('a malformed key is refused without reading the database', async () => {
  const db = f.t.mongo.db;
  await db.command({ profile: 2 });
  try {
    const forged = `cdk_live_${'A'.repeat(32)}_AAAAAA`; // right shape, wrong checksum
    assert.equal((await submit({ ...a, key: forged }, loanRequest())).status, 401);
    assert.equal((await asPartner(f.url, 'not-a-key', 'GET', '/api/loan/request/LOAN-01J0000000000000000000000')).status, 401);
  } finally {
    await db.command({ profile: 0 });
  }
  const reads = await db.collection('system.profile').countDocuments({ ns: `${db.databaseName}.partner_keys` });
  assert.equal(reads, 0);
  // the profiler does see a well-formed key's lookup (the check above can fail)
  await db.command({ profile: 2 });
  try {
    const other = await testPartner(admin);
    await asPartner(f.url, other.key, 'GET', '/api/loan/request/LOAN-01J0000000000000000000000');
  } finally {
    await db.command({ profile: 0 });
  }
  assert.ok((await db.collection('system.profile').countDocuments({ ns: `${db.databaseName}.partner_keys`, op: 'query' })) > 0);
});

test('rotation: a second key works beside the first until the first is revoked', async () => {
  const p = await testPartner(admin);
  const second = await admin.post(`/api/partners/${p.id}/keys`);
  assert.equal(second.status, 201);
  const body = loanRequest();
  assert.equal((await submit(p, body)).status, 202);
  const viaSecond = await submit({ ...p, key: second.body.key }, body);
  assert.equal(viaSecond.status, 202, 'the same partner: a replay under either key');
  assert.equal(viaSecond.headers.get('idempotent-replayed'), 'true');
  const revoked = await admin.post(`/api/partners/${p.id}/keys/${p.keyId}/revoke`);
  assert.equal(revoked.status, 200);
  assert.ok(revoked.body.revokedAt);
  await waitFor('the revoked key to be refused', async () => (await submit(p, loanRequest())).status === 401);
  assert.equal((await submit({ ...p, key: second.body.key }, loanRequest())).status, 202);
  const audit = await f.t.c.audit.countDocuments({ entity: 'partner', entityId: p.id, action: 'key.revoke' });
  assert.equal(audit, 1);
  // another partner's key id under this partner is 404
  assert.equal((await admin.post(`/api/partners/${a.id}/keys/${p.keyId}/revoke`)).status, 404);
});

test('a request with creditScore 550 is accepted and ends rejected with LOW_CREDIT_SCORE by the approval worker', async () => {
  const r = await submit(a, loanRequest({ creditScore: 550 }));
  assert.equal(r.status, 202);
  const big = await submit(a, loanRequest({ amount: 400_000, income: 50_000 }));
  assert.equal(big.status, 202);
  await approvalWorker();
  const done = await waitFor(
    'the worker to decide',
    async () => {
      const s = await asPartner(f.url, a.key, 'GET', r.body.statusUrl);
      return s.body.status === 'rejected' ? s.body : null;
    },
    { died: f.procs.died },
  );
  // a reject reason decides it (a missing document is only a review reason)
  assert.ok(
    done.reasons.some((x: { code: string }) => x.code === 'LOW_CREDIT_SCORE'),
    JSON.stringify(done.reasons),
  );
  assert.ok(done.version >= 2);
  const tooLarge = await waitFor(
    'the second decision',
    async () => {
      const s = await asPartner(f.url, a.key, 'GET', big.body.statusUrl);
      return s.body.status === 'rejected' ? s.body : null;
    },
    { died: f.procs.died },
  );
  assert.ok(tooLarge.reasons.some((x: { code: string }) => x.code === 'LOAN_TOO_LARGE'));
});

/** POST /api/loan/request/:id/documents as a multipart form with the partner's bearer key. */
async function uploadAs(p: TestPartner, id: string, data: Buffer): Promise<Res> {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(data)], { type: 'image/png' }), 'payslip.png');
  const r = await fetch(`${f.url}/api/loan/request/${id}/documents`, {
    method: 'POST',
    headers: { authorization: `Bearer ${p.key}` },
    body: form,
  });
  return { status: r.status, body: await r.json(), headers: r.headers };
}

test('a partner adds a document to its application once decided for review: OCR is requested', async () => {
  const r = await submit(a, loanRequest({ creditScore: 720 }));
  await approvalWorker();
  await waitFor(
    'the review decision (no document yet)',
    async () => (await asPartner(f.url, a.key, 'GET', r.body.statusUrl)).body.status === 'pending_review',
    {
      died: f.procs.died,
    },
  );
  const png = await renderDocument();
  const theirs = await uploadAs(b, r.body.id, png);
  assert.equal(theirs.status, 404, 'another partner cannot add documents');
  const up = await uploadAs(a, r.body.id, png);
  assert.equal(up.status, 201, JSON.stringify(up.body));
  assert.equal(up.body.status, 'ocr_pending');
  const event = await f.t.mongo.db.collection('events').findOne({ type: 'ocr.requested', 'payload.applicationId': r.body.id });
  assert.ok(event, 'OCR is requested in the same transaction');
  const notForm = await asPartner(f.url, a.key, 'POST', `${r.body.statusUrl}/documents`, { file: 'x' });
  assert.equal(notForm.status, 415);
});

test('without PARTNER_KEY_SECRET the partner routes answer 503', async () => {
  const api = await f.startApi({ PARTNER_KEY_SECRET: '' });
  const r = await asPartner(api.url, a.key, 'POST', '/api/loan/request', loanRequest());
  assert.equal(r.status, 503);
  assert.equal(r.body.detail, 'partner intake is not configured');
});
