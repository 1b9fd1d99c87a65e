// The credit-bureau step, async mode, with real processes: the bureau simulator answers 202 and
// later POSTs a signed Standard Webhooks callback to the API (POST /api/webhooks/credit-bureau);
// the approval worker leaves the application in bureau_pending (its event completes: no lane
// waits) and the callback decides it in one transaction with its receipt and the next event.
// Webhook checks: signature, timestamp, replay (duplicate delivery), rotation (two secrets),
// late and unknown callbacks — each refused or no-op callback changes nothing and is in the
// error log with its reason.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { ApplicationDoc } from '../../lib/domain/applications/types.js';
import { MODEL_VERSION } from '../../lib/domain/risk/types.js';
import { generateSecret, signedHeaders } from '../../lib/webhooks/standard-webhooks.js';
import { type CreditReport, reportFor } from '../../scripts/simulators/credit-bureau-report.js';
import { applicantWith, type Bureau, clean, inScoring } from '../helpers/bureau.js';
import { fixture } from '../helpers/fixture.js';
import { Client } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';

// Rotation: the API accepts both; the simulator signs with the older one, the test with the newer.
const NEW_SECRET = generateSecret();
const OLD_SECRET = generateSecret();
const f = fixture('bureau-async', { api: { BUREAU_WEBHOOK_SECRETS: `${NEW_SECRET},${OLD_SECRET}` } });
const HOOK = '/api/webhooks/credit-bureau';
let reviewer: Client;
let bureau: Bureau;

f.before(async () => {
  reviewer = await f.client('reviewer');
  bureau = await f.bureau({
    BUREAU_SIM_MODE: 'async',
    BUREAU_SIM_WEBHOOK_SECRET: OLD_SECRET,
    BUREAU_SIM_CALLBACK_URL: `${f.url}${HOOK}`,
    BUREAU_SIM_CALLBACK_DELAY_MS: '100',
  });
  await f.worker('approval', { BUREAU_URL: bureau.url, BUREAU_MODE: 'async' });
});

const doc = async (id: string) => (await f.t.c.applications.findOne({ _id: id }))!;
const events = (type: string, id: string) => f.t.mongo.db.collection('events').countDocuments({ type, 'payload.applicationId': id });
const errorEntry = (code: string) => f.t.c.errorLog.findOne({ code });

/** An application the approval worker picks up next, whose bureau report approves. */
async function scoring(): Promise<{ id: string; report: CreditReport }> {
  const { applicant, report } = applicantWith(clean, 'async');
  return { id: await inScoring(f.t.ctx, reviewer, applicant), report };
}

const inStatus = (id: string, status: string) =>
  waitFor(`application ${id} in ${status}`, async () => ((await doc(id)).status === status ? doc(id) : undefined), { died: f.procs.died });

/** A callback for `requestId` signed by the test (a fresh webhook-id unless given). */
function callback(secret: string, requestId: string, report: CreditReport, o: { webhookId?: string; timestamp?: number } = {}) {
  const body = JSON.stringify({
    type: 'credit_report.completed',
    timestamp: new Date().toISOString(),
    data: { requestId, reference: null, report },
  });
  return { body, headers: signedHeaders(secret, o.webhookId ?? `msg_${randomUUID()}`, body, o.timestamp) };
}
const post = (c: { body: string; headers: Record<string, string> }) => new Client(f.url).req('POST', HOOK, c.body, c.headers);

/** Waits for `n` deliveries of the simulator for `requestId` to have an HTTP status. */
const delivered = (requestId: string, n: number) =>
  waitFor(`${n} callback deliveries for ${requestId}`, async () => {
    const ds = (await bureau.callbacks()).filter((d) => d.requestId === requestId && d.status !== null);
    return ds.length >= n ? ds : undefined;
  });

describe('async bureau through the pipeline', () => {
  test('scoring → bureau_pending (the event completes) → the signed callback decides, stores the report, publishes the next event', async () => {
    await bureau.control({ callbackDelayMs: 1500 });
    const { id, report } = await scoring();
    const pending = await inStatus(id, 'bureau_pending');
    assert.equal(pending.bureau?.state, 'waiting');
    const requestId = pending.bureau?.requestId;
    assert.ok(requestId?.startsWith('req_'));
    // No worker lane waits for the callback: the approval event completes while the application still waits.
    await waitFor('the approval event completed', () =>
      f.t.mongo.db.collection('events').findOne({ type: 'approval.requested', 'payload.applicationId': id, state: 'completed' }),
    );
    assert.equal((await doc(id)).status, 'bureau_pending');
    await bureau.control({ callbackDelayMs: 100 });

    const d = await inStatus(id, 'approved');
    assert.equal(d.bureau?.state, 'received');
    if (d.bureau?.state !== 'received') return;
    assert.deepEqual(
      [d.bureau.mode, d.bureau.requestId, d.bureau.reportId, d.bureau.score],
      ['async', requestId, report.reportId, report.score],
    );
    assert.equal(d.risk?.modelVersion, MODEL_VERSION);
    assert.equal(await events('disbursement.requested', id), 1);
    const [first] = await delivered(requestId!, 1);
    assert.equal(first!.status, 200, 'signed with the second (older) secret: accepted during the rotation');
    const receipt = await f.t.mongo.db.collection('webhook_receipts').findOne({ _id: `credit-bureau:${first!.webhookId}` } as never);
    assert.ok(receipt, 'the receipt committed with the decision');
    const audit = await f.t.c.audit.findOne({ entityId: id, 'changes.status.to': 'approved' });
    assert.equal(audit?.actor.id, 'webhook:credit-bureau');
  });

  test('a duplicate delivery (same webhook-id) and a late callback (new id, decided application) change nothing: 200, error-log entries', async () => {
    await bureau.control({ duplicates: true });
    try {
      const { id, report } = await scoring();
      const d = await inStatus(id, 'approved');
      const requestId = (d.bureau as { requestId: string }).requestId;
      const ds = await delivered(requestId, 2);
      assert.deepEqual(
        ds.map((x) => [x.kind, x.status]),
        [
          ['first', 200],
          ['duplicate', 200],
        ],
      );
      assert.ok(await errorEntry('BUREAU_CALLBACK_DUPLICATE'), 'the duplicate is in the error log');

      // The same report again under a new webhook-id, signed with the newer secret: late.
      const late = await post(callback(NEW_SECRET, requestId, { ...report, score: 300 }));
      assert.equal(late.status, 200);
      assert.deepEqual([late.body.outcome, late.body.status], ['late', 'approved']);
      const after = await doc(id);
      assert.equal(after.version, d.version, 'nothing changed');
      assert.equal(after.status, 'approved');
      assert.equal(await events('disbursement.requested', id), 1, 'no second event');
      assert.ok(await f.t.c.errorLog.findOne({ code: 'BUREAU_CALLBACK_LATE', applicationId: id }));
    } finally {
      await bureau.control({ duplicates: false });
    }
  });
});

describe('refused callbacks leave the application waiting and are in the error log', () => {
  /** An application in bureau_pending whose real callback is held back by the simulator switch `sw`. */
  async function pendingWith(sw: { badSignature?: boolean; staleTimestamp?: boolean }): Promise<{ d: ApplicationDoc; requestId: string }> {
    await bureau.control(sw);
    const { id } = await scoring();
    const d = await inStatus(id, 'bureau_pending');
    const requestId = (d.bureau as { requestId: string }).requestId;
    return { d, requestId };
  }

  test('a bad signature → 401, BUREAU_CALLBACK_BAD_SIGNATURE; a valid one for the same request then applies', async () => {
    const { d, requestId } = await pendingWith({ badSignature: true });
    try {
      const [x] = await delivered(requestId, 1);
      assert.equal(x!.status, 401);
      assert.equal((await doc(d._id)).version, d.version, 'nothing changed');
      assert.ok(await errorEntry('BUREAU_CALLBACK_BAD_SIGNATURE'));
      // A secret outside the configured pair is refused the same way (the test's own post).
      const foreign = await post(callback(generateSecret(), requestId, reportFor(d.applicant)));
      assert.equal(foreign.status, 401);
      assert.equal(foreign.body.type, 'https://creditdesk.dev/problems/webhook_bad_signature');
    } finally {
      await bureau.control({ badSignature: false });
    }
    const ok = await post(callback(NEW_SECRET, requestId, reportFor(d.applicant)));
    assert.equal(ok.status, 200);
    assert.deepEqual([ok.body.outcome, ok.body.status], ['applied', 'approved']);
  });

  test('a stale timestamp (10 min old) → 401, BUREAU_CALLBACK_STALE_TIMESTAMP; so is one from the future', async () => {
    const { d, requestId } = await pendingWith({ staleTimestamp: true });
    try {
      const [x] = await delivered(requestId, 1);
      assert.equal(x!.status, 401);
      assert.ok(await errorEntry('BUREAU_CALLBACK_STALE_TIMESTAMP'));
      const future = await post(
        callback(NEW_SECRET, requestId, reportFor(d.applicant), { timestamp: Math.floor(Date.now() / 1000) + 600 }),
      );
      assert.equal(future.status, 401);
      assert.equal((await doc(d._id)).status, 'bureau_pending', 'nothing changed');
    } finally {
      await bureau.control({ staleTimestamp: false });
    }
  });

  test('a replayed webhook-id is applied once; an unknown request id → 400; missing headers → 401; not JSON → 400', async () => {
    const { d, requestId } = await pendingWith({ badSignature: true });
    await bureau.control({ badSignature: false });
    const cb = callback(NEW_SECRET, requestId, reportFor(d.applicant), { webhookId: `msg_${randomUUID()}` });
    const [a, b] = await Promise.all([post(cb), post(cb)]);
    assert.deepEqual([a.body.outcome, b.body.outcome].sort(), ['applied', 'duplicate'], 'concurrent replays: exactly one applies');
    assert.equal(await events('disbursement.requested', d._id), 1);

    const unknown = await post(callback(NEW_SECRET, `req_${randomUUID()}`, reportFor(d.applicant)));
    assert.equal(unknown.status, 400);
    assert.ok(await errorEntry('BUREAU_CALLBACK_UNKNOWN_REQUEST'));
    const bare = await new Client(f.url).req('POST', HOOK, cb.body, {});
    assert.equal(bare.status, 401);
    assert.ok(await errorEntry('BUREAU_CALLBACK_MISSING_HEADERS'));
    const notJson = 'not json';
    const garbage = await new Client(f.url).req('POST', HOOK, notJson, signedHeaders(NEW_SECRET, `msg_${randomUUID()}`, notJson));
    assert.equal(garbage.status, 400);
    assert.ok(await errorEntry('BUREAU_CALLBACK_MALFORMED'));
  });
});
