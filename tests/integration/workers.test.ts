// End to end with real processes: upload → OCR worker → approval worker → disbursement worker.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { renderDocument } from '../fixtures/documents/render.js';
import { sampleApplication, startInProcess, userClient } from '../helpers/app.js';
import { testDb, type TestDb } from '../helpers/db.js';
import type { Client } from '../helpers/http.js';
import { killLeftovers, spawnGateway, spawnWorker, uploadAs, waitFor, workerEnv, type Gateway, type Proc } from '../helpers/workers.js';
import { freePort } from '../../scripts/stack/ports.js';

let t: TestDb;
let srv: Awaited<ReturnType<typeof startInProcess>>;
let reviewer: Client;
let gw: Gateway;
let workers: Proc[];
let httpPort: number;

before(async () => {
  t = await testDb('workers');
  srv = await startInProcess(t);
  reviewer = await userClient(t, srv.url, 'reviewer');
  gw = await spawnGateway();
  httpPort = await freePort();
  workers = await Promise.all([
    spawnWorker(t, 'ocr', { WORKER_HTTP_PORT: String(httpPort) }),
    spawnWorker(t, 'approval'),
    spawnWorker(t, 'disbursement', { PAYMENT_GATEWAY_URL: gw.url, SHUTDOWN_TIMEOUT_MS: '1000' }),
  ]);
});
after(async () => { await killLeftovers(); await srv.close(); await t.close(); });

const alive = () => workers.find((w) => w.proc.exitCode !== null)?.output() ?? null;
async function until(id: string, statuses: string[]) {
  return waitFor(async () => {
    const d = await t.c.applications.findOne({ _id: id });
    return d && statuses.includes(d.status) ? d : null;
  }, `${id} to reach ${statuses}`, 90_000, alive);
}
async function submitWithDocument(over: Record<string, unknown> = {}) {
  const a = await reviewer.post('/api/applications', sampleApplication(over));
  assert.equal(a.status, 201);
  const up = await uploadAs(reviewer, a.body.id, await renderDocument());
  assert.equal(up.status, 201, JSON.stringify(up.body));
  return a.body.id as string;
}
const trail = async (id: string) => (await reviewer.get(`/api/applications/${id}/history`)).body.items
  .filter((e: any) => e.changes.status).map((e: any) => `${e.changes.status.to} by ${e.actor.id.startsWith('worker:') ? e.actor.id : 'reviewer'}`);

describe('pipeline', () => {
  test('a clean application is read, approved and disbursed once, with every transition audited', async () => {
    const id = await submitWithDocument();
    const app = await until(id, ['disbursed', 'rejected', 'pending_review', 'failed']);
    assert.equal(app.status, 'disbursed', JSON.stringify(app.risk));
    assert.deepEqual(await trail(id), [
      'submitted by reviewer', 'ocr_pending by reviewer', 'scoring by worker:ocr', 'approved by worker:approval',
      'disbursing by worker:disbursement', 'disbursed by worker:disbursement',
    ]);
    assert.equal(app.risk!.decision, 'approved');
    assert.equal(await t.c.ledger.countDocuments({ applicationId: id }), 1);
    assert.equal((await gw.payments()).filter((p) => p.key === `disbursement:${id}`).length, 1);
  });

  test('a low credit score is rejected with a categorized reason and never disbursed', async () => {
    const id = await submitWithDocument({ creditScore: 540 });
    const app = await until(id, ['rejected', 'approved', 'pending_review', 'disbursed']);
    assert.equal(app.status, 'rejected');
    assert.deepEqual((app.risk!.reasons as any[]).map((r) => [r.code, r.category]), [['LOW_CREDIT_SCORE', 'credit']]);
    assert.equal(await t.mongo.db.collection('events').countDocuments({ type: 'disbursement.requested', 'payload.applicationId': id }), 0);
  });

  test('an income mismatch goes to review; the reviewer approves manually and the hook starts disbursement', async () => {
    const id = await submitWithDocument({ income: 70_000 });
    const app = await until(id, ['pending_review', 'approved', 'rejected', 'disbursed']);
    assert.equal(app.status, 'pending_review');
    assert.deepEqual((app.risk!.reasons as any[]).map((r) => r.code), ['INCOME_MISMATCH']);
    const r = await reviewer.put(`/api/applications/${id}`, { version: app.version, status: 'approved' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await until(id, ['disbursed']);
    assert.equal(await t.c.ledger.countDocuments({ applicationId: id }), 1);
    assert.deepEqual((await trail(id)).slice(-3), ['approved by reviewer', 'disbursing by worker:disbursement', 'disbursed by worker:disbursement']);
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
    await waitFor(async () => (await gw.held()) > 0, 'the payment to be in flight', 90_000, alive);
    assert.equal(await disb.stop('SIGTERM'), 0);
    assert.match(disb.output(), /"released":1/);
    const ev = await t.mongo.db.collection('events').findOne({ type: 'disbursement.requested', 'payload.applicationId': id });
    assert.equal(ev!.state, 'pending');
    await gw.setHold(false);
    workers[2] = await spawnWorker(t, 'disbursement', { PAYMENT_GATEWAY_URL: gw.url });
    await until(id, ['disbursed']);
    assert.equal(await t.c.ledger.countDocuments({ applicationId: id }), 1);
    assert.equal((await gw.payments()).filter((p) => p.key === `disbursement:${id}`).length, 1);
  });

  test('a bad WORKER_ROLES stops the process with exit 1 naming the variable', async () => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts', 'ocr,bogus'], {
      env: { ...process.env, ...workerEnv(t) }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stderr.on('data', (d) => { out += d; });
    const code = await new Promise((res) => p.once('exit', res));
    assert.equal(code, 1);
    assert.match(out, /WORKER_ROLES/);
  });
});
