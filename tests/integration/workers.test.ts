// End to end with real processes: upload → OCR worker → approval worker → disbursement worker.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { freePort } from '../helpers/stack.js';
import { renderDocument } from '../fixtures/documents/render.js';
import type { Gateway } from '../helpers/app-processes.js';
import { workerEnv } from '../helpers/env.js';
import { fixture } from '../helpers/fixture.js';
import type { Client } from '../helpers/http.js';
import type { Proc } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('workers', { api: true });
let reviewer: Client;
let checker: Client;
let gw: Gateway;
let workers: Proc[];
let httpPort: number;

f.before(async () => {
  reviewer = await f.client('reviewer');
  checker = await f.client('reviewer'); // approves what `reviewer` created (four-eyes)
  gw = await f.gateway();
  httpPort = await freePort();
  workers = await Promise.all([
    f.worker('ocr', { WORKER_HTTP_PORT: String(httpPort) }),
    f.worker('approval'),
    f.worker('disbursement', { PAYMENT_GATEWAY_URL: gw.url, SHUTDOWN_TIMEOUT_MS: '1000' }),
  ]);
});

async function until(id: string, statuses: string[]) {
  return waitFor(
    `${id} to reach ${statuses}`,
    async () => {
      const d = await f.t.c.applications.findOne({ _id: id });
      return d && statuses.includes(d.status) ? d : null;
    },
    { timeoutMs: 90_000, died: f.procs.died },
  );
}
async function submitWithDocument(over: Record<string, unknown> = {}) {
  const { id } = await reviewer.create(over);
  const up = await reviewer.upload(id, await renderDocument());
  assert.equal(up.status, 201, JSON.stringify(up.body));
  return id;
}
interface HistoryEntry {
  changes: { status?: { to: string } };
  actor: { id: string };
}
const trail = async (id: string) =>
  (await reviewer.get<{ items: HistoryEntry[] }>(`/api/applications/${id}/history`)).body.items
    .filter((e) => e.changes.status)
    .map((e) => `${e.changes.status!.to} by ${e.actor.id.startsWith('worker:') ? e.actor.id : 'reviewer'}`);

describe('pipeline', () => {
  test('a clean application is read, approved and disbursed once, with every transition audited', async () => {
    const id = await submitWithDocument();
    const app = await until(id, ['disbursed', 'rejected', 'pending_review', 'failed']);
    assert.equal(app.status, 'disbursed', JSON.stringify(app.risk));
    assert.deepEqual(await trail(id), [
      'submitted by reviewer',
      'ocr_pending by reviewer',
      'scoring by worker:ocr',
      'approved by worker:approval',
      'disbursing by worker:disbursement',
      'disbursed by worker:disbursement',
    ]);
    assert.equal(app.risk!.decision, 'approved');
    assert.equal(await f.t.c.ledger.countDocuments({ applicationId: id }), 1);
    assert.equal((await gw.payments()).filter((p) => p.key === `disbursement:${id}`).length, 1);
  });

  test('a low credit score is rejected with a categorized reason and never disbursed', async () => {
    const id = await submitWithDocument({ creditScore: 540 });
    const app = await until(id, ['rejected', 'approved', 'pending_review', 'disbursed']);
    assert.equal(app.status, 'rejected');
    assert.deepEqual(
      app.risk!.reasons.map((r) => [r.code, r.category]),
      [['LOW_CREDIT_SCORE', 'credit']],
    );
    assert.equal(
      await f.t.mongo.db.collection('events').countDocuments({ type: 'disbursement.requested', 'payload.applicationId': id }),
      0,
    );
  });

  test('an income mismatch goes to review; the reviewer approves manually and the hook starts disbursement', async () => {
    const id = await submitWithDocument({ income: 70_000 });
    const app = await until(id, ['pending_review', 'approved', 'rejected', 'disbursed']);
    assert.equal(app.status, 'pending_review');
    assert.deepEqual(
      app.risk!.reasons.map((r) => r.code),
      ['INCOME_MISMATCH'],
    );
    const r = await checker.put(`/api/applications/${id}`, { version: app.version, status: 'approved' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await until(id, ['disbursed']);
    assert.equal(await f.t.c.ledger.countDocuments({ applicationId: id }), 1);
    assert.deepEqual((await trail(id)).slice(-3), [
      'approved by reviewer',
      'disbursing by worker:disbursement',
      'disbursed by worker:disbursement',
    ]);
  });

  test('the OCR worker serves /health and /metrics on WORKER_HTTP_PORT', async () => {
    const h = await fetch(`http://127.0.0.1:${httpPort}/health`);
    assert.equal(h.status, 200);
    const body = (await h.json()) as { status: string; roles: string[] };
    assert.equal(body.status, 'ok');
    assert.deepEqual(body.roles, ['ocr']);
    const m = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    assert.match(m, /worker_jobs_processed\{role="ocr"\} [1-9]/);
    assert.match(m, /worker_jobs_in_flight\{role="ocr"\} 0/);
  });
});

describe('process life cycle', () => {
  test('SIGTERM with a job in flight past SHUTDOWN_TIMEOUT_MS: released, exit 0, finished by the next worker', async () => {
    await gw.setHold(true);
    const disb = workers[2]!;
    const id = await submitWithDocument();
    await waitFor('the payment to be in flight', async () => (await gw.held()) > 0, { timeoutMs: 90_000, died: f.procs.died });
    assert.equal((await disb.stop('SIGTERM')).code, 0);
    assert.match(disb.output(), /"released":1/);
    const ev = await f.t.mongo.db.collection('events').findOne({ type: 'disbursement.requested', 'payload.applicationId': id });
    assert.equal(ev!.state, 'pending');
    await gw.setHold(false);
    workers[2] = await f.worker('disbursement', { PAYMENT_GATEWAY_URL: gw.url });
    await until(id, ['disbursed']);
    assert.equal(await f.t.c.ledger.countDocuments({ applicationId: id }), 1);
    assert.equal((await gw.payments()).filter((p) => p.key === `disbursement:${id}`).length, 1);
  });

  test('a bad WORKER_ROLES stops the process with exit 1 naming the variable', async () => {
    const p = await f.procs.node('worker-bad-roles', 'workers/main.ts', workerEnv(f.t), { args: ['ocr,bogus'] });
    assert.equal((await p.exitWithin(30_000)).code, 1);
    assert.match(p.output(), /WORKER_ROLES/);
  });
});
