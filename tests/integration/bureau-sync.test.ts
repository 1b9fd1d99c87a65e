// The credit-bureau step, sync mode, through the whole pipeline with real processes: the bureau
// simulator (sync, 50 ms) and an approval worker calling it through the shared VendorClient. An
// application entering scoring (the OCR stage's write, or a partner's intake) is decided with the
// bureau's report stored on it, the model version recorded, and — when approved — the
// disbursement event published; the stored inputs reproduce the decision.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assess } from '../../lib/domain/risk/assess.js';
import { riskInputOf } from '../../lib/domain/risk/input.js';
import { MODEL_VERSION } from '../../lib/domain/risk/types.js';
import { applicantWith, type Bureau, clean, inScoring, type TestApplicant } from '../helpers/bureau.js';
import { fixture } from '../helpers/fixture.js';
import type { Client } from '../helpers/http.js';
import { asPartner, loanRequest, testPartner, type TestPartner } from '../helpers/partners.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('bureau-sync', { api: true });
let reviewer: Client;
let partner: TestPartner;
let bureau: Bureau;

f.before(async () => {
  const admin = await f.client('admin');
  [reviewer, partner] = await Promise.all([f.client('reviewer'), testPartner(admin)]);
  bureau = await f.bureau();
  await f.worker('approval', { BUREAU_URL: bureau.url, BUREAU_MODE: 'sync' });
});

const doc = async (id: string) => (await f.t.c.applications.findOne({ _id: id }))!;

const scoring = (applicant: TestApplicant) => inScoring(f.t.ctx, reviewer, applicant);

const decided = (id: string) =>
  waitFor(
    `application ${id} decided`,
    async () => {
      const d = await doc(id);
      return d.risk ? d : undefined;
    },
    { died: f.procs.died },
  );

test('a clean bureau report approves: the report is stored, the model version recorded, the disbursement event published', async () => {
  const { applicant, report } = applicantWith(clean, 'clean');
  const id = await scoring(applicant);
  const d = await decided(id);
  assert.equal(d.status, 'approved', JSON.stringify(d.risk));
  assert.equal(d.bureau?.state, 'received');
  if (d.bureau?.state !== 'received') return;
  assert.deepEqual(
    { vendor: d.bureau.vendor, mode: d.bureau.mode, reportId: d.bureau.reportId, score: d.bureau.score, defaults: d.bureau.defaults },
    { vendor: 'credit-bureau', mode: 'sync', reportId: report.reportId, score: report.score, defaults: report.defaults },
  );
  assert.equal(d.risk?.modelVersion, MODEL_VERSION);
  const events = await f.t.mongo.db.collection('events').countDocuments({ type: 'disbursement.requested', 'payload.applicationId': id });
  assert.equal(events, 1, 'entering approved published the next event');
  // Reproducible: the rules of the recorded version on the stored inputs give the stored decision.
  const again = assess(riskInputOf(d));
  assert.deepEqual(
    { decision: again.decision, score: again.score, reasons: again.reasons },
    {
      decision: d.risk!.decision,
      score: d.risk!.score,
      reasons: d.risk!.reasons,
    },
  );
  // The API shows it (the response is checked against the OpenAPI document).
  const view = await reviewer.get(`/api/applications/${id}`);
  assert.equal(view.status, 200);
  assert.equal(view.body.bureau.reportId, report.reportId);
  assert.equal(view.body.risk.modelVersion, MODEL_VERSION);
});

test('a low bureau score rejects with BUREAU_SCORE_LOW (category credit), recorded in the error log', async () => {
  const { applicant, report } = applicantWith((r) => r.score < 450 && r.defaults === 0 && r.identityMatch, 'low');
  const id = await scoring(applicant);
  const d = await decided(id);
  assert.equal(d.status, 'rejected');
  const reason = d.risk!.reasons.find((r) => r.code === 'BUREAU_SCORE_LOW');
  assert.ok(reason, JSON.stringify(d.risk!.reasons));
  assert.equal(reason.category, 'credit');
  assert.match(reason.message, new RegExp(`bureau score ${report.score}`));
  assert.ok(await f.t.c.errorLog.findOne({ code: 'BUREAU_SCORE_LOW', applicationId: id }));
});

test("a partner's intake goes through the bureau too (identity mismatch → review)", async () => {
  const { applicant } = applicantWith((r) => !r.identityMatch && r.score >= 600 && r.defaults === 0, 'nomatch');
  const r = await asPartner(f.url, partner.key, 'POST', '/api/loan/request', loanRequest({ application: applicant }));
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const d = await decided(r.body.id);
  assert.equal(d.status, 'pending_review');
  assert.ok(d.risk!.reasons.some((x) => x.code === 'BUREAU_IDENTITY_MISMATCH' && x.category === 'verification'));
  const calls = await bureau.requests();
  assert.ok(calls.length >= 3, 'every application was sent to the bureau');
});
