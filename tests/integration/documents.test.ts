import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { renderDocument } from '../fixtures/documents/render.js';
import { sampleApplication, startInProcess, userClient } from '../helpers/app.js';
import { testDb, type TestDb } from '../helpers/db.js';
import type { Client } from '../helpers/http.js';
import { uploadAs } from '../helpers/workers.js';

let t: TestDb;
let srv: Awaited<ReturnType<typeof startInProcess>>;
let reviewer: Client;
let viewer: Client;
let png: Buffer;

before(async () => {
  t = await testDb('documents');
  srv = await startInProcess(t, { UPLOAD_LIMIT_BYTES: String(512 * 1024) });
  reviewer = await userClient(t, srv.url, 'reviewer');
  viewer = await userClient(t, srv.url, 'viewer');
  png = await renderDocument();
});
after(async () => { await srv.close(); await t.close(); });

async function create(): Promise<string> {
  const r = await reviewer.post('/api/applications', sampleApplication());
  assert.equal(r.status, 201);
  return r.body.id;
}
const files = () => t.mongo.db.collection('documents.files').countDocuments();
const events = () => t.mongo.db.collection('events').countDocuments();

describe('upload', () => {
  test('stores the file in GridFS and, in one transaction, moves to ocr_pending with audit and an ocr.requested event', async () => {
    const id = await create();
    const r = await uploadAs(reviewer, id, png, { filename: 'payslip.png' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.application.status, 'ocr_pending');
    assert.equal(r.body.application.version, 2);
    assert.equal(r.body.document.contentType, 'image/png');
    assert.equal(r.body.document.size, png.length);
    const docId = r.body.document.id;
    const file = await t.mongo.db.collection('documents.files').findOne({ 'metadata.applicationId': id });
    assert.equal(String(file!._id), docId);
    const ev = await t.mongo.db.collection('events').findOne({ dedupeKey: `ocr:${docId}` });
    assert.equal(ev!.type, 'ocr.requested');
    assert.deepEqual(ev!.payload, { applicationId: id, documentId: docId });
    assert.ok(ev!.requestId, 'the request id travels with the event');
    const h = (await viewer.get(`/api/applications/${id}/history`)).body.items;
    assert.deepEqual(h.at(-1).changes.status, { from: 'submitted', to: 'ocr_pending' });

    const list = await viewer.get(`/api/applications/${id}/documents`);
    assert.equal(list.status, 200);
    assert.equal(list.body.items.length, 1);
    assert.equal(list.body.items[0].id, docId);
    assert.equal(list.body.items[0].originalName, 'payslip.png');
  });

  test('JPEG and TIFF are accepted by their content', async () => {
    for (const fmt of ['jpg', 'tif'] as const) {
      const id = await create();
      const r = await uploadAs(reviewer, id, await renderDocument(undefined, fmt), { type: 'application/octet-stream', filename: `d.${fmt}` });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.document.contentType, fmt === 'jpg' ? 'image/jpeg' : 'image/tiff');
    }
  });
});

describe('refusals change nothing', () => {
  test('a PDF claiming to be a PNG is 415 in the problem shape; no file, no event, same version', async () => {
    const id = await create();
    const [f, e] = [await files(), await events()];
    const r = await uploadAs(reviewer, id, Buffer.from('%PDF-1.7\n% fake'), { type: 'image/png' });
    assert.equal(r.status, 415);
    assert.equal(r.body.status, 415);
    assert.equal(await files(), f);
    assert.equal(await events(), e);
    assert.equal((await t.c.applications.findOne({ _id: id }))!.version, 1);
  });

  test('a file over UPLOAD_LIMIT_BYTES is 413', async () => {
    const id = await create();
    const big = Buffer.concat([png.subarray(0, 8), Buffer.alloc(600 * 1024)]);
    const r = await uploadAs(reviewer, id, big);
    assert.equal(r.status, 413);
    assert.equal((await t.c.applications.findOne({ _id: id }))!.status, 'submitted');
  });

  test('wrong state is 409 and stores no file', async () => {
    const id = await create();
    assert.equal((await uploadAs(reviewer, id, png)).status, 201);
    const f = await files();
    const r = await uploadAs(reviewer, id, png);
    assert.equal(r.status, 409);
    assert.equal(r.body.status, 409);
    assert.equal(await files(), f);
  });

  test('roles, CSRF, ids and form shape', async () => {
    const id = await create();
    assert.equal((await uploadAs(viewer, id, png)).status, 403);
    assert.equal((await uploadAs(reviewer, id, png, { csrf: false })).status, 403);
    assert.equal((await uploadAs(reviewer, 'LOAN-00000000000000000000000000', png)).status, 404);
    assert.equal((await uploadAs(reviewer, 'not-an-id', png)).status, 400);
    assert.equal((await uploadAs(reviewer, id, png, { field: 'other' })).status, 400);
    assert.equal((await reviewer.post(`/api/applications/${id}/documents`, { file: 'x' })).status, 400);
    assert.equal((await viewer.get('/api/applications/not-an-id/documents')).status, 400);
    assert.equal((await viewer.get('/api/applications/LOAN-00000000000000000000000000/documents')).status, 404);
    assert.equal((await t.c.applications.findOne({ _id: id }))!.version, 1);
  });
});
