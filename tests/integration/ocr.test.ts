import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { extractFields } from '../../lib/domain/documents/extract-fields.js';
import { OcrError, recognize } from '../../lib/ocr/tesseract.js';
import { KNOWN_DOCUMENT, renderDocument } from '../fixtures/documents/render.js';
import { sampleApplication, startInProcess, userClient } from '../helpers/app.js';
import { testDb, type TestDb } from '../helpers/db.js';
import type { Client } from '../helpers/http.js';
import { killLeftovers, spawnWorker, uploadAs, waitFor, type Proc } from '../helpers/workers.js';

describe('tesseract on a rendered document', () => {
  test('a generated PNG of a known document yields its name, income and ID number', async () => {
    const text = await recognize(await renderDocument());
    assert.deepEqual(extractFields(text), { name: KNOWN_DOCUMENT.name, income: 90_000, idNumber: KNOWN_DOCUMENT.idNumber });
  });

  test('JPEG and TIFF read the same', async () => {
    for (const fmt of ['jpg', 'tif'] as const) {
      const f = extractFields(await recognize(await renderDocument(undefined, fmt)));
      assert.deepEqual(f, { name: KNOWN_DOCUMENT.name, income: 90_000, idNumber: KNOWN_DOCUMENT.idNumber }, fmt);
    }
  });

  test('an aborted signal kills the tesseract process and rejects with OcrError', async () => {
    const ac = new AbortController();
    const run = recognize(await renderDocument(), { signal: ac.signal });
    ac.abort(new Error('lease lost'));
    await assert.rejects(run, OcrError);
  });

  test('bytes that are not an image are an OcrError, not a crash', async () => {
    await assert.rejects(recognize(Buffer.from('\x89PNG\r\n\x1a\nnot really')), OcrError);
  });
});

describe('OCR worker process', () => {
  let t: TestDb;
  let srv: Awaited<ReturnType<typeof startInProcess>>;
  let reviewer: Client;
  let worker: Proc;

  before(async () => {
    t = await testDb('ocr');
    srv = await startInProcess(t);
    reviewer = await userClient(t, srv.url, 'reviewer');
    worker = await spawnWorker(t, 'ocr');
  });
  after(async () => { await worker.stop(); await killLeftovers(); await srv.close(); await t.close(); });

  async function uploadFor(over: Record<string, unknown>, doc = KNOWN_DOCUMENT) {
    const a = await reviewer.post('/api/applications', sampleApplication(over));
    const r = await uploadAs(reviewer, a.body.id, await renderDocument(doc));
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const scored = await waitFor(async () => {
      const d = await t.c.applications.findOne({ _id: a.body.id });
      return d?.status !== 'ocr_pending' ? d : null;
    }, 'OCR to finish', 60_000, () => (worker.proc.exitCode === null ? null : worker.output()));
    return { id: a.body.id as string, docId: r.body.document.id as string, app: scored };
  }

  test('writes the fields back, moves ocr_pending → scoring and publishes approval.requested in the same change', async () => {
    const { id, docId, app } = await uploadFor({});
    assert.equal(app.status, 'scoring');
    assert.equal(app.ocr!.documentId, docId);
    assert.deepEqual(app.ocr!.fields, { name: 'Ada Lovelace', income: 90_000, idNumber: 'AB1234567' });
    assert.deepEqual(app.ocr!.mismatches, []);
    const ev = await t.mongo.db.collection('events').findOne({ type: 'approval.requested', 'payload.applicationId': id });
    assert.ok(ev, 'approval.requested was published');
    assert.equal(ev.dedupeKey, `approval:${id}:v${app.version}`);
    const last = (await reviewer.get(`/api/applications/${id}/history`)).body.items.at(-1);
    assert.deepEqual(last.changes.status, { from: 'ocr_pending', to: 'scoring' });
    assert.equal(last.actor.id, 'worker:ocr');
    const listed = (await reviewer.get(`/api/applications/${id}/documents`)).body.items[0];
    assert.deepEqual(listed.ocr.fields, app.ocr!.fields);
  });

  test('records mismatches against the declared name and income (beyond 10 %)', async () => {
    const { app } = await uploadFor({ income: 60_000, applicant: { ...sampleApplication().applicant, name: 'Grace Hopper' } });
    assert.equal(app.status, 'scoring');
    assert.deepEqual(app.ocr!.mismatches, [
      { field: 'name', declared: 'Grace Hopper', extracted: 'Ada Lovelace' },
      { field: 'income', declared: 60_000, extracted: 90_000 },
    ]);
  });

  test('an image tesseract cannot read fails the application with the reason and dead-letters the job', async () => {
    const a = await reviewer.post('/api/applications', sampleApplication());
    const corrupt = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(2048, 7)]);
    const up = await uploadAs(reviewer, a.body.id, corrupt);
    assert.equal(up.status, 201);
    const app = await waitFor(async () => {
      const d = await t.c.applications.findOne({ _id: a.body.id });
      return d?.status === 'failed' ? d : null;
    }, 'the application to fail', 60_000, () => (worker.proc.exitCode === null ? null : worker.output()));
    assert.equal((app as any).failure.stage, 'ocr');
    assert.match((app as any).failure.reason, /tesseract/);
    const ev = await waitFor(() => t.mongo.db.collection('events').findOne({ dedupeKey: `ocr:${up.body.document.id}`, state: 'dead' }), 'the dead letter');
    assert.equal(ev.attempts, 3);
  });

  test('an income within the tolerance is not a mismatch', async () => {
    const { app } = await uploadFor({ income: 85_000 });
    assert.deepEqual(app.ocr!.mismatches, []);
  });
});
