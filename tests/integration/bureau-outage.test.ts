// A bureau outage with real processes: the simulator answers 503 to everything; the approval
// worker's calls fail, the shared circuit breaker opens, and every approval event is rescheduled
// for the breaker's retry time (RescheduleError: no attempt counted, never dead-lettered, no lane
// sleeping) while its application shows the transient VENDOR_UNAVAILABLE reason. After the outage
// the half-open probe closes the breaker and every application is decided.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_ATTEMPTS } from '../../lib/domain/pipeline/events.js';
import { applicantWith, type Bureau, inScoring } from '../helpers/bureau.js';
import { fixture } from '../helpers/fixture.js';
import type { Client } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('bureau-outage', { api: true });
let reviewer: Client;
let bureau: Bureau;
const N = 6;

f.before(async () => {
  reviewer = await f.client('reviewer');
  bureau = await f.bureau({ BUREAU_SIM_OUTAGE: '1', BUREAU_SIM_LATENCY_MS: '5' });
  await f.worker('approval', {
    BUREAU_URL: bureau.url,
    BUREAU_MAX_ATTEMPTS: '2',
    BUREAU_BACKOFF_BASE_MS: '20',
    BUREAU_BACKOFF_CAP_MS: '100',
    BUREAU_TIMEOUT_MS: '1000',
    BUREAU_BREAKER_MIN_CALLS: '4',
    BUREAU_BREAKER_COOL_DOWN_MS: '500',
    BUREAU_BREAKER_PROBE_LEASE_MS: '2000',
    BUREAU_BREAKER_FLUSH_MS: '0',
  });
});

const events = () => f.t.mongo.db.collection('events').find({ type: 'approval.requested' }).toArray();

test('an outage opens the breaker; approval events are rescheduled (not failed, not dead-lettered) and complete after recovery', async () => {
  const ids: string[] = [];
  for (let i = 0; i < N; i++) {
    // Clean reports, so that every application ends approved once the bureau is back.
    const { applicant } = applicantWith((r) => r.score >= 700 && r.defaults === 0 && r.identityMatch, `outage-${i}`);
    ids.push(await inScoring(f.t.ctx, reviewer, applicant));
  }

  await waitFor(
    'the breaker to open',
    () => f.t.mongo.db.collection('circuit_breakers').findOne({ _id: 'credit-bureau', state: 'open' } as never),
    {
      died: f.procs.died,
    },
  );
  // Every application shows the transient reason while it waits, and stays in scoring.
  const shown = await waitFor(
    'every application to show VENDOR_UNAVAILABLE',
    async () => {
      const docs = await f.t.c.applications.find({ _id: { $in: ids } }).toArray();
      const ok = docs.every(
        (d) => d.status === 'scoring' && d.bureau?.state === 'waiting' && d.bureau.reasons.some((r) => r.code === 'VENDOR_UNAVAILABLE'),
      );
      return ok ? docs : undefined;
    },
    { died: f.procs.died },
  );
  const reason = shown[0]!.bureau?.state === 'waiting' ? shown[0]!.bureau.reasons[0]! : undefined;
  assert.deepEqual([reason?.category, reason?.severity], ['vendor', 'transient']);
  // More reschedules than the job's attempt budget, yet nothing dead and no attempt counted for them.
  const budget = MAX_ATTEMPTS['approval.requested'];
  await waitFor(
    `every event rescheduled more than ${budget} times`,
    async () => (await events()).every((e) => (e.reschedules ?? 0) > budget),
    { died: f.procs.died },
  );
  const during = await events();
  assert.equal(during.filter((e) => e.state === 'dead').length, 0, 'nothing dead-lettered during the outage');
  assert.ok(
    during.every((e) => e.attempts <= 1),
    `attempts are not counted by reschedules: ${JSON.stringify(during.map((e) => e.attempts))}`,
  );
  const statuses = (await bureau.stats()).statuses;
  assert.ok((statuses['503'] ?? 0) >= 4, JSON.stringify(statuses));

  await bureau.control({ outage: false });
  await waitFor(
    'every application decided after the outage',
    async () => (await f.t.c.applications.countDocuments({ _id: { $in: ids }, status: 'approved' })) === N,
    { died: f.procs.died },
  );
  const breaker = await f.t.mongo.db.collection('circuit_breakers').findOne({ _id: 'credit-bureau' } as never);
  assert.equal(breaker?.state, 'closed', 'the half-open probe closed it');
  const after = await events();
  assert.equal(after.filter((e) => e.state === 'dead').length, 0);
  assert.equal(
    await f.t.c.applications.countDocuments({ _id: { $in: ids }, 'bureau.state': 'received' }),
    N,
    'the reports replaced the transient reason',
  );
  assert.equal(await f.t.c.errorLog.countDocuments({ code: 'APPROVAL_FAILED' }), 0, 'no give-up recorded');
});
