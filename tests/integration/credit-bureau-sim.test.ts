// The credit-bureau simulator (scripts/simulators/credit-bureau.ts) as a real process: sync
// reports, async reports by signed callback to a receiver that verifies them with
// lib/webhooks/standard-webhooks.ts and records each webhook-id once (lib/webhooks/receipts.ts),
// the callback test switches, and its rate limit, outage and error controls. Plus the receipts
// store on its own: unique under concurrency, part of a transaction.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { acceptOnce, WEBHOOK_RECEIPTS } from '../../lib/webhooks/receipts.js';
import { generateSecret, verify, type WebhookFailure } from '../../lib/webhooks/standard-webhooks.js';
import { type Bureau, bureauProcess } from '../helpers/bureau.js';
import { fixture } from '../helpers/fixture.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('credit_bureau_sim');
const SIM_SECRET = generateSecret();
const NEW_SECRET = generateSecret();

interface Received {
  id: string | undefined;
  verdict: 'accepted' | 'duplicate' | WebhookFailure;
  body: string;
}
let bureau: Bureau;
let receiver: Server;
let receiverUrl = '';
const received: Received[] = [];

f.before(async () => {
  bureau = await bureauProcess(f.procs, { BUREAU_SIM_WEBHOOK_SECRET: SIM_SECRET, BUREAU_SIM_LATENCY_MS: '5' });
  // The receiver a lender would run: raw bytes → verify (two secrets: a rotation) → replay check → 2xx.
  receiver = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const v = verify([NEW_SECRET, SIM_SECRET], req.headers, raw);
    const id = req.headers['webhook-id'] as string | undefined;
    if (!v.ok) {
      received.push({ id, verdict: v.reason, body: raw.toString() });
      res.writeHead(400).end();
      return;
    }
    const first = await acceptOnce(f.t.mongo.db, 'credit-bureau', v.id);
    received.push({ id, verdict: first ? 'accepted' : 'duplicate', body: raw.toString() });
    res.writeHead(first ? 204 : 200).end();
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/api/webhooks/credit-bureau`;
});
f.after(() => new Promise<void>((r) => receiver.close(() => r())));

const applicant = { name: 'Ada Lovelace', email: 'ada@example.com', phone: '+44 20 7946 0000', age: 36, declaredIncome: 85_000 };
const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${bureau.url}/v1/reports`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });

test('sync: 200 with a report that depends only on the applicant’s identity; bad input is 400', async () => {
  await bureau.control({ mode: 'sync' });
  const r1 = await post(applicant);
  assert.equal(r1.status, 200);
  const rep = (await r1.json()) as Record<string, unknown>;
  assert.deepEqual(Object.keys(rep).sort(), [
    'defaults',
    'identityMatch',
    'modelVersion',
    'openAccounts',
    'reportId',
    'score',
    'simulated',
  ]);
  assert.equal(rep.simulated, true);
  assert.ok(typeof rep.score === 'number' && rep.score >= 300 && rep.score <= 850);
  // Same identity (case, spacing, phone punctuation, other figures aside) → the same report.
  const same = await (
    await post({ ...applicant, name: ' ada  LOVELACE ', phone: '+442079460000', declaredIncome: 1, reference: 'app-9' })
  ).json();
  assert.deepEqual(same, rep);
  const other = (await (await post({ ...applicant, email: 'someone@example.com' })).json()) as Record<string, unknown>;
  assert.notEqual(other.reportId, rep.reportId);
  for (const bad of [{ ...applicant, extra: 1 }, { email: 'x@example.com' }, { ...applicant, age: 'old' }])
    assert.equal((await post(bad)).status, 400);
});

test('async: 202 with a request id, then a signed callback that verifies and carries the same report', async () => {
  await bureau.control({ mode: 'async', callbackUrl: receiverUrl, callbackDelayMs: 50 });
  const r = await post({ ...applicant, reference: 'app-1' });
  assert.equal(r.status, 202);
  const { requestId } = (await r.json()) as { requestId: string };
  assert.match(requestId, /^req_/);
  const got = await waitFor('the callback', () => received.find((x) => x.body.includes(requestId)));
  assert.equal(got.verdict, 'accepted');
  const body = JSON.parse(got.body) as { type: string; data: { requestId: string; reference: string; report: unknown } };
  assert.equal(body.type, 'credit_report.completed');
  assert.equal(body.data.reference, 'app-1');
  await bureau.control({ mode: 'sync' });
  assert.deepEqual(body.data.report, await (await post(applicant)).json());
  assert.equal(await f.t.mongo.db.collection(WEBHOOK_RECEIPTS).countDocuments({ webhookId: got.id }), 1);
});

test('callback switches: bad signatures, stale timestamps and duplicates are refused for what they are', async () => {
  const send = async (switches: { badSignature?: boolean; staleTimestamp?: boolean; duplicates?: boolean }, n: number) => {
    await bureau.control({
      mode: 'async',
      callbackUrl: receiverUrl,
      callbackDelayMs: 0,
      badSignature: false,
      staleTimestamp: false,
      duplicates: false,
      ...switches,
    });
    const { requestId } = (await (await post(applicant)).json()) as { requestId: string };
    return waitFor(`${n} deliveries for ${JSON.stringify(switches)}`, () => {
      const got = received.filter((x) => x.body.includes(requestId));
      return got.length >= n ? got : null;
    });
  };
  assert.deepEqual(
    (await send({ badSignature: true }, 1)).map((x) => x.verdict),
    ['bad_signature'],
  );
  assert.deepEqual(
    (await send({ staleTimestamp: true }, 1)).map((x) => x.verdict),
    ['stale_timestamp'],
  );
  const dup = await send({ duplicates: true }, 2);
  assert.deepEqual(
    dup.map((x) => x.verdict),
    ['accepted', 'duplicate'],
  );
  assert.equal(dup[0]!.id, dup[1]!.id, 'a duplicate carries the same webhook-id');
  // Refused deliveries (400) are not retried by the bureau; none was accepted.
  const deliveries = await bureau.callbacks();
  assert.ok(deliveries.every((d) => d.attempt === 1));
  await bureau.control({ badSignature: false, staleTimestamp: false, duplicates: false, mode: 'sync' });
});

test('rate limit (429 + Retry-After, counted), outage (503), error rate (500), and a strict control endpoint', async () => {
  await bureau.control({ mode: 'sync', rateLimitPerSecond: 3, latencyMs: 0 });
  const before = (await bureau.stats()).rateLimited;
  // Ten at once: the same one-second window unless the second turns between them; then ≥ 4 of 10 are still over 3 per window.
  const rs = await Promise.all(Array.from({ length: 10 }, () => post(applicant)));
  const limited = rs.filter((r) => r.status === 429);
  assert.ok(limited.length >= 4, `${limited.length} of 10 refused`);
  assert.ok(limited.every((r) => r.headers.get('retry-after') === '1'));
  assert.equal((await bureau.stats()).rateLimited - before, limited.length);
  await bureau.control({ rateLimitPerSecond: 0, outage: true });
  assert.equal((await post(applicant)).status, 503);
  await bureau.control({ outage: false, errorRate: 1 });
  assert.equal((await post(applicant)).status, 500);
  await bureau.control({ errorRate: 0, outageMs: 60_000 });
  assert.equal((await post(applicant)).status, 503, 'an outage window is on until it ends');
  await bureau.control({ outage: false, latencyMs: 5 });
  assert.equal((await post(applicant)).status, 200);
  const bad = await fetch(`${bureau.url}/_sim/control`, { method: 'POST', body: JSON.stringify({ outage: 'yes', mystery: 1 }) });
  assert.equal(bad.status, 400);
  const s = await bureau.stats();
  assert.ok(s.statuses['503']! >= 2 && s.statuses['500']! >= 1);
  assert.ok(Object.values(s.perSecond).reduce((a, n) => a + n, 0) === s.calls);
});

test('receipts: one of 10 concurrent first receipts wins; a receipt written in an aborted transaction is not kept; TTL index', async () => {
  const db = f.t.mongo.db;
  const results = await Promise.all(Array.from({ length: 10 }, () => acceptOnce(db, 'test', 'msg_race')));
  assert.equal(results.filter(Boolean).length, 1);
  const session = f.t.mongo.client.startSession();
  try {
    await session
      .withTransaction(async () => {
        assert.equal(await acceptOnce(db, 'test', 'msg_tx', { session }), true);
        assert.equal(await acceptOnce(db, 'test', 'msg_tx', { session }), false, 'a replay inside the same transaction');
        throw new Error('roll back');
      })
      .catch((e: Error) => assert.equal(e.message, 'roll back'));
  } finally {
    await session.endSession();
  }
  assert.equal(await acceptOnce(db, 'test', 'msg_tx'), true, 'the rolled-back receipt did not count');
  const ttl = (await db.collection(WEBHOOK_RECEIPTS).indexes()).find((i) => i.name === 'ttl');
  assert.deepEqual([ttl?.key, ttl?.expireAfterSeconds], [{ expiresAt: 1 }, 0]);
});
