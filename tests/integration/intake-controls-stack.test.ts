// Partner rate limit and intake pause across 3 real API instances: the limit is the partner's
// (one shared GCRA bucket, leased per instance), and a pause/resume is obeyed by every instance.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture } from '../helpers/fixture.js';
import type { Client } from '../helpers/http.js';
import { asPartner, loanRequest, testPartner } from '../helpers/partners.js';
import { boundedLoad, countBy } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

const INSTANCES = 3;

/** Retry-After, RateLimit and RateLimit-Policy (IETF draft) as a 429 carries them. */
const limitHeaders = (h: Headers, rate: number) =>
  /^[1-9]\d*$/.test(h.get('retry-after') ?? '') &&
  /^"partner";r=0;t=[1-9]\d*$/.test(h.get('ratelimit') ?? '') &&
  h.get('ratelimit-policy') === `"partner";q=${rate};w=1`;
const f = fixture('intakectl', { stack: { instances: INSTANCES } });
let admin: Client;

f.before(async () => {
  admin = await f.client('admin');
});

test('a partner at rate R gets about R×t accepted across 3 instances, the rest 429 with headers; another partner is unaffected', async () => {
  const R = 30;
  const lease = Math.max(1, Math.ceil(R * 0.1)); // PARTNER_RATE_LEASE_FRACTION's default
  const hot = await testPartner(admin, undefined, R);
  const calm = await testPartner(admin, undefined, 1000);
  const urls = f.stack.apis.map((a) => a.url);
  const started = Date.now();
  const [load, others] = await Promise.all([
    boundedLoad({ count: 20_000, concurrency: 9, maxMs: 3000 }, async (i) => {
      const r = await asPartner(urls[i % INSTANCES]!, hot.key, 'POST', '/api/loan/request', loanRequest());
      // A 429 without its headers counts as a 599 (and fails the status check below).
      return [r.status === 429 && !limitHeaders(r.headers, R) ? 599 : r.status, r];
    }),
    boundedLoad({ count: 15, concurrency: 3, maxMs: 3000 }, async (i) => {
      const r = await asPartner(urls[i % INSTANCES]!, calm.key, 'POST', '/api/loan/request', loanRequest());
      return [r.status, r];
    }),
  ]);
  const seconds = (Date.now() - started) / 1000;
  const counts = countBy(load.statuses);
  const accepted = counts[202] ?? 0;
  // Tolerance (docs/adr/0015): the burst, one lease per instance (PARTNER_RATE_BURST_LEASES = 3).
  const tolerance = INSTANCES * lease;
  console.log(
    `rate limit: R=${R}/s over ${seconds.toFixed(2)} s: ${JSON.stringify(counts)}, expected ${(R * seconds).toFixed(0)} ± ${tolerance}`,
  );
  assert.deepEqual(Object.keys(counts).sort(), ['202', '429'], JSON.stringify(counts));
  assert.ok(accepted <= R * seconds + tolerance, `accepted ${accepted} > R×t + tolerance`);
  // Below: leases left unspent, and each lease's round trip under load (up to half a second in all).
  assert.ok(accepted >= R * seconds - tolerance - R * 0.5, `accepted ${accepted} far below R×t`);
  assert.equal(await f.t.c.applications.countDocuments({ 'intake.partnerId': hot.id }), accepted, 'every 202 stored, no 429 wrote');
  assert.deepEqual(countBy(others.statuses), { 202: 15 }, 'the other partner is not limited');
});

test('the 429 carries Retry-After, RateLimit and RateLimit-Policy', async () => {
  const p = await testPartner(admin, undefined, 1); // a lease of 1, a burst of 3 (PARTNER_RATE_BURST_LEASES)
  const url = f.stack.apis[0]!.url;
  const answers = [];
  for (let i = 0; i < 5; i++) answers.push(await asPartner(url, p.key, 'POST', '/api/loan/request', loanRequest()));
  const refused = answers.find((r) => r.status === 429);
  assert.ok(refused, JSON.stringify(answers.map((r) => r.status)));
  assert.equal(refused.body.type, 'https://creditdesk.dev/problems/rate_limited');
  assert.match(refused.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
  assert.match(refused.headers.get('ratelimit') ?? '', /^"partner";r=0;t=[1-9]\d*$/);
  assert.equal(refused.headers.get('ratelimit-policy'), '"partner";q=1;w=1');
});

test('pause: every instance answers 503 with Retry-After, status reads work, audited; resume: intake continues', async () => {
  const p = await testPartner(admin);
  const urls = f.stack.apis.map((a) => a.url);
  const before = await asPartner(f.url, p.key, 'POST', '/api/loan/request', loanRequest());
  assert.equal(before.status, 202);

  const reviewer = await f.client('reviewer');
  assert.equal((await reviewer.post('/api/admin/intake/pause')).status, 403, 'admins only');
  assert.equal((await admin.post('/api/admin/intake/pause', { all: true })).status, 400, 'no body fields');
  const paused = await admin.post('/api/admin/intake/pause');
  assert.equal(paused.status, 200);
  assert.equal(paused.body.paused, true);
  assert.equal(paused.body.by, admin.email);

  const refusals = await Promise.all(
    urls.map((url) =>
      waitFor(
        `${url} to refuse new loan requests`,
        async () => {
          const r = await asPartner(url, p.key, 'POST', '/api/loan/request', loanRequest());
          return r.status === 503 ? r : undefined;
        },
        { timeoutMs: 5000, intervalMs: 100, died: f.procs.died },
      ),
    ),
  );
  for (const r of refusals) {
    assert.equal(r.body.type, 'https://creditdesk.dev/problems/intake_paused');
    assert.match(r.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
  }
  const kept = await f.t.c.applications.countDocuments({ 'intake.partnerId': p.id });
  for (const url of urls) {
    assert.equal((await asPartner(url, p.key, 'GET', `/api/loan/request/${before.body.id}`)).status, 200, 'status reads work');
    assert.equal((await asPartner(url, p.key, 'POST', '/api/loan/request', loanRequest())).status, 503);
  }
  assert.ok(await f.t.c.applications.findOne({ _id: before.body.id }), 'the accepted request is kept');
  assert.equal(await f.t.c.applications.countDocuments({ 'intake.partnerId': p.id }), kept, 'nothing written while paused');

  const state = await admin.get('/api/admin/intake');
  assert.equal(state.body.paused, true);
  assert.equal(state.body.by, admin.email);
  assert.ok(!Number.isNaN(Date.parse(state.body.since)));
  assert.equal((await admin.get('/api/admin/queue-stats')).body.intake.paused, true);
  const audit = await f.t.c.audit.findOne({ entity: 'intake', action: 'intake.paused' });
  assert.equal(audit?.actor.email, admin.email);
  assert.ok(audit?.requestId, 'request id recorded');

  assert.equal((await admin.post('/api/admin/intake/resume')).status, 200);
  for (const url of urls) {
    await waitFor(
      `${url} to accept loan requests again`,
      async () => (await asPartner(url, p.key, 'POST', '/api/loan/request', loanRequest())).status === 202,
      { timeoutMs: 5000, intervalMs: 100, died: f.procs.died },
    );
  }
  assert.equal((await admin.get('/api/admin/intake')).body.paused, false);
  assert.ok(await f.t.c.audit.findOne({ entity: 'intake', action: 'intake.resumed' }));
});
