// No application hangs in ocr_pending or scoring when its stage's event is dead-lettered, on
// whichever path the queue gave up (here: the worker killed on every attempt, and the lease lost
// on the last attempt), and retrying the dead letter brings it back into the pipeline.
// Real worker processes: the OCR engine is replaced by a script that kill -9s (or freezes) the
// worker that runs it; approval is held inside its transaction by a test transaction that holds
// the application's document, while the test kill -9s the worker.
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EventDoc } from '../../lib/queue/index.js';
import { renderDocument } from '../fixtures/documents/render.js';
import { fixture } from '../helpers/fixture.js';
import type { Client } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('stuck', { api: true });
let reviewer: Client;
let admin: Client;

/** A stand-in for tesseract that answers --version, then does `action` to the worker that runs it. */
function engine(name: string, action: string): string {
  const file = join(f.procs.dir, name);
  writeFileSync(file, `#!/bin/sh\nif [ "$1" = "--version" ]; then echo "tesseract 5 (test stand-in)"; exit 0; fi\n${action}\nsleep 30\n`);
  chmodSync(file, 0o755);
  return file;
}
const FAST = { WORKER_LEASE_MS: '1000', WORKER_POLL_MS: '100' };

f.before(async () => {
  reviewer = await f.client('reviewer');
  admin = await f.client('admin');
});

const events = () => f.t.mongo.db.collection<EventDoc>('events');
const eventOf = async (type: string, id: string) => (await events().findOne({ type, 'payload.applicationId': id }))!;
const app = async (id: string) => (await f.t.c.applications.findOne({ _id: id }))!;
async function submitWithDocument(): Promise<string> {
  const { id } = await reviewer.create();
  assert.equal((await reviewer.upload(id, await renderDocument())).status, 201);
  return id;
}
/** Runs workers of `role` one after another (each with `env`) until `done`; at most `max` of them. */
async function workersUntil(role: string, env: Record<string, string>, done: () => Promise<boolean>, max: number): Promise<number> {
  for (let n = 1; n <= max; n++) {
    const w = await f.worker(role, { ...FAST, ...env });
    await waitFor(`worker ${n} of ${role} to die or finish`, async () => w.exit !== undefined || (await done()));
    await w.kill9();
    if (await done()) return n;
  }
  throw new Error(`${role}: not done after ${max} workers`);
}
const failedAudits = async (id: string) => f.t.c.audit.countDocuments({ entityId: id, 'changes.status.to': 'failed' });

describe('OCR', () => {
  test('a worker killed on every attempt: application failed with the reason, event dead; retrying the dead letter completes the pipeline', async () => {
    const id = await submitWithDocument();
    const crash = engine('crash.sh', 'kill -9 $PPID');
    const ocr = await eventOf('ocr.requested', id);
    // maxAttempts 3: three workers die mid-attempt, the fourth claim finds the attempts used up.
    const used = await workersUntil(
      'ocr',
      { TESSERACT_BIN: crash },
      async () => (await events().findOne({ _id: ocr._id }))!.state === 'dead',
      6,
    );
    assert.equal(used, 4);
    const dead = (await events().findOne({ _id: ocr._id }))!;
    assert.equal(dead.attempts, 4);
    assert.equal(dead.recoveries, 3);
    const failed = await app(id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.failure?.stage, 'ocr');
    assert.equal(failed.failure?.eventId, ocr._id.toHexString());
    assert.match(failed.failure!.reason, /attempts_exhausted/);
    assert.equal(await failedAudits(id), 1);

    const r = await admin.post(`/api/admin/dead-letters/${ocr._id.toHexString()}/retry`, {});
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.resumed, [{ applicationId: id, status: 'ocr_pending' }]);
    assert.equal((await app(id)).status, 'ocr_pending');
    const audit = await f.t.c.audit.findOne({ entityId: id, 'changes.status.to': 'ocr_pending', 'changes.status.from': 'failed' });
    assert.match(audit?.actor.email ?? '', /^admin/, 'the resumption is audited as the admin who retried');

    const workers = await Promise.all(['ocr', 'approval', 'disbursement'].map((role) => f.worker(role, FAST)));
    const done = await waitFor(
      'the resumed application to be disbursed',
      async () => {
        const d = await app(id);
        return d.status === 'disbursed' ? d : null;
      },
      { timeoutMs: 90_000, died: f.procs.died },
    );
    assert.equal(done.risk?.decision, 'approved');
    assert.equal(await f.t.c.ledger.countDocuments({ applicationId: id }), 1);
    assert.equal((await events().findOne({ _id: ocr._id }))!.state, 'completed');
    await Promise.all(workers.map((w) => w.stop()));
  });

  test('the lease lost on the last attempt (worker frozen): the next claim gives up, the application is failed once', async () => {
    const id = await submitWithDocument();
    const ocr = await eventOf('ocr.requested', id);
    const attempts = async () => (await events().findOne({ _id: ocr._id }))!.attempts;
    await workersUntil('ocr', { TESSERACT_BIN: engine('crash2.sh', 'kill -9 $PPID') }, async () => (await attempts()) >= 2, 3);
    const frozen = await f.worker('ocr', { ...FAST, TESSERACT_BIN: engine('freeze.sh', 'kill -STOP $PPID') });
    await waitFor('the last attempt to be claimed by the worker that freezes', async () => (await attempts()) === 3);
    const next = await f.worker('ocr', FAST);
    await waitFor('the next worker to give up', async () => (await events().findOne({ _id: ocr._id }))!.state === 'dead', {
      died: f.procs.died,
    });
    frozen.signal('SIGCONT'); // it wakes up holding a lease it lost: its writes are refused
    await sleep(1500);
    const failed = await app(id);
    assert.equal(failed.status, 'failed');
    assert.match(failed.failure!.reason, /attempts_exhausted/);
    assert.equal(await failedAudits(id), 1, 'failed exactly once');
    assert.equal((await events().findOne({ _id: ocr._id }))!.state, 'dead');
    await Promise.all([frozen.kill9(), next.stop()]);
  });
});

describe('approval', () => {
  test('a worker killed on every attempt: application failed, event dead; the retried dead letter is decided', async () => {
    const id = await submitWithDocument();
    const ocr = await f.worker('ocr', FAST);
    await waitFor('OCR to finish', async () => (await app(id)).status === 'scoring', { timeoutMs: 90_000, died: f.procs.died });
    await ocr.stop();
    const approval = await eventOf('approval.requested', id);
    const attempts = async () => (await events().findOne({ _id: approval._id }))!.attempts;

    // Hold the application's document in an open transaction: the worker's decision cannot
    // commit (write conflict, retried by the driver), so it is still running when it is killed.
    const session = f.t.mongo.client.startSession();
    session.startTransaction();
    await f.t.c.applications.updateOne({ _id: id }, { $set: { heldByTest: true } }, { session });
    try {
      for (let n = 1; n <= 5; n++) {
        // maxAttempts 5
        const w = await f.worker('approval', FAST);
        await waitFor(`attempt ${n} to be claimed`, async () => (await attempts()) === n, { died: f.procs.died });
        await sleep(200); // inside the handler
        await w.kill9();
      }
    } finally {
      await session.abortTransaction();
      await session.endSession();
    }
    const w = await f.worker('approval', FAST);
    await waitFor('the sixth claim to give up', async () => (await events().findOne({ _id: approval._id }))!.state === 'dead', {
      died: f.procs.died,
    });
    const failed = await app(id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.failure?.stage, 'approval');
    assert.equal(await failedAudits(id), 1);

    const r = await admin.post('/api/admin/dead-letters/retry', { type: 'approval.requested' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.resumed, [{ applicationId: id, status: 'scoring' }]);
    const decided = await waitFor(
      'the retried approval to decide',
      async () => {
        const d = await app(id);
        return d.status === 'approved' ? d : null;
      },
      { died: f.procs.died },
    );
    assert.equal(decided.risk?.decision, 'approved');
    await w.stop();
  });
});
