// Partner intake across real API processes behind nginx: concurrent duplicates of one key make
// exactly one application, and a revoked key is refused by every instance within about a second.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture } from '../helpers/fixture.js';
import type { Client } from '../helpers/http.js';
import { asPartner, loanRequest, type TestPartner, testPartner } from '../helpers/partners.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('partnerstack', { stack: { instances: 3 } });
let admin: Client;
let p: TestPartner;

f.before(async () => {
  admin = await f.client('admin');
  p = await testPartner(admin);
});

test('50 concurrent requests with one key across 3 instances: one application, 49 identical replays', async () => {
  const body = loanRequest();
  const answers = await Promise.all(
    Array.from({ length: 50 }, () => asPartner(f.url, p.key, 'POST', '/api/loan/request', body, { 'idempotency-key': 'burst-1' })),
  );
  const statuses = answers.map((r) => r.status);
  assert.deepEqual([...new Set(statuses)], [202], JSON.stringify(answers.filter((r) => r.status !== 202).map((r) => r.body)));
  const first = answers.filter((r) => r.headers.get('idempotent-replayed') !== 'true');
  assert.equal(first.length, 1, 'exactly one first answer');
  for (const r of answers) assert.deepEqual(r.body, first[0]!.body);
  assert.equal(await f.t.c.applications.countDocuments({ 'intake.partnerId': p.id, 'intake.idempotencyKey': 'burst-1' }), 1);
  assert.equal(await f.t.mongo.db.collection('events').countDocuments({ 'payload.applicationId': first[0]!.body.id }), 1);
});

test('a revoked key is refused by every instance within about a second', async () => {
  const urls = f.stack.apis.map((a) => a.url);
  // every instance has the key's "valid" verdict cached
  for (const url of urls) assert.equal((await asPartner(url, p.key, 'POST', '/api/loan/request', loanRequest())).status, 202);
  const revoked = await admin.post(`/api/partners/${p.id}/keys/${p.keyId}/revoke`);
  assert.equal(revoked.status, 200);
  await Promise.all(
    urls.map((url) =>
      waitFor(
        `${url} to refuse the revoked key`,
        async () => (await asPartner(url, p.key, 'POST', '/api/loan/request', loanRequest())).status === 401,
        { timeoutMs: 5000, intervalMs: 100 },
      ),
    ),
  );
});
