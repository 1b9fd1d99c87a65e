import assert from 'node:assert/strict';
import { type ClientRequest, request } from 'node:http';
import { describe, test } from 'node:test';
import { jpegHeader, pngHeader, tiffHeader } from '../fixtures/documents/headers.js';
import { renderDocument } from '../fixtures/documents/render.js';
import { fixture } from '../helpers/fixture.js';
import type { Client } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('documents', {
  api: { UPLOAD_LIMIT_BYTES: String(512 * 1024), UPLOADS_IN_FLIGHT_MAX: '3', UPLOADS_IN_FLIGHT_PER_USER: '2', IMAGE_MAX_PIXELS: '4000000' },
});
let reviewer: Client;
let viewer: Client;
let png: Buffer;

f.before(async () => {
  reviewer = await f.client('reviewer');
  viewer = await f.client('viewer');
  png = await renderDocument();
});

const create = async () => (await reviewer.create()).id;
const files = () => f.t.mongo.db.collection('documents.files').countDocuments();
const events = () => f.t.mongo.db.collection('events').countDocuments();

describe('upload', () => {
  test('stores the file in GridFS and, in one transaction, moves to ocr_pending with audit and an ocr.requested event', async () => {
    const id = await create();
    const r = await reviewer.upload(id, png, { filename: 'payslip.png' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.application.status, 'ocr_pending');
    assert.equal(r.body.application.version, 2);
    assert.equal(r.body.document.contentType, 'image/png');
    assert.equal(r.body.document.size, png.length);
    const docId = r.body.document.id;
    const file = await f.t.mongo.db.collection('documents.files').findOne({ 'metadata.applicationId': id });
    assert.equal(String(file!._id), docId);
    const ev = await f.t.mongo.db.collection('events').findOne({ dedupeKey: `ocr:${docId}` });
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
      const r = await reviewer.upload(id, await renderDocument(undefined, fmt), { type: 'application/octet-stream', filename: `d.${fmt}` });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.document.contentType, fmt === 'jpg' ? 'image/jpeg' : 'image/tiff');
    }
  });
});

describe('refusals change nothing', () => {
  test('a PDF claiming to be a PNG is 415 in the problem shape; no file, no event, same version', async () => {
    const id = await create();
    const [fileCount, eventCount] = [await files(), await events()];
    const r = await reviewer.upload(id, Buffer.from('%PDF-1.7\n% fake'), { type: 'image/png' });
    assert.equal(r.status, 415);
    assert.equal(r.body.status, 415);
    assert.equal(await files(), fileCount);
    assert.equal(await events(), eventCount);
    assert.equal((await f.t.c.applications.findOne({ _id: id }))!.version, 1);
  });

  test('a file over UPLOAD_LIMIT_BYTES is 413', async () => {
    const id = await create();
    const big = Buffer.concat([png.subarray(0, 8), Buffer.alloc(600 * 1024)]);
    const r = await reviewer.upload(id, big);
    assert.equal(r.status, 413);
    assert.equal((await f.t.c.applications.findOne({ _id: id }))!.status, 'submitted');
  });

  test('wrong state is 409 and stores no file', async () => {
    const id = await create();
    assert.equal((await reviewer.upload(id, png)).status, 201);
    const fileCount = await files();
    const r = await reviewer.upload(id, png);
    assert.equal(r.status, 409);
    assert.equal(r.body.status, 409);
    assert.equal(await files(), fileCount);
  });

  test('roles, CSRF, ids and form shape', async () => {
    const id = await create();
    assert.equal((await viewer.upload(id, png)).status, 403);
    assert.equal((await reviewer.upload(id, png, { csrf: false })).status, 403);
    assert.equal((await reviewer.upload('LOAN-00000000000000000000000000', png)).status, 404);
    assert.equal((await reviewer.upload('not-an-id', png)).status, 400);
    assert.equal((await reviewer.upload(id, png, { field: 'other' })).status, 400);
    assert.equal((await reviewer.post(`/api/applications/${id}/documents`, { file: 'x' })).status, 415); // JSON where multipart is expected
    assert.equal((await viewer.get('/api/applications/not-an-id/documents')).status, 400);
    assert.equal((await viewer.get('/api/applications/LOAN-00000000000000000000000000/documents')).status, 404);
    assert.equal((await f.t.c.applications.findOne({ _id: id }))!.version, 1);
  });
});

describe('decompression bombs', () => {
  test('an image whose header claims more than IMAGE_MAX_PIXELS is 422 at upload (PNG, JPEG, multi-page TIFF); nothing stored', async () => {
    for (const bomb of [pngHeader(50_000, 50_000), jpegHeader(3000, 2000), tiffHeader(2000, 1000, 3)]) {
      const id = await create();
      const [fileCount, eventCount] = [await files(), await events()];
      const r = await reviewer.upload(id, bomb);
      assert.equal(r.status, 422, JSON.stringify(r.body));
      assert.match(r.body.detail, /pixels are accepted/);
      assert.equal(r.body.maxPixels, 4_000_000);
      assert.equal(await files(), fileCount);
      assert.equal(await events(), eventCount);
      assert.equal((await f.t.c.applications.findOne({ _id: id }))!.version, 1);
    }
  });

  test('an image header that cannot be read is 422', async () => {
    const r = await reviewer.upload(await create(), pngHeader(100, 100).subarray(0, 20));
    assert.equal(r.status, 422);
  });
});

/** The API's count of uploads holding a slot (its own /metrics, read straight from loopback). */
async function uploadsInFlight(): Promise<number> {
  const text = await (await fetch(`${f.url}/metrics`)).text();
  return Number(/^http_uploads_in_flight (\d+)/m.exec(text)?.[1]);
}

/** A multipart upload whose body never finishes: it holds an upload slot until destroyed. */
function stalledUpload(c: Client, id: string): ClientRequest {
  const req = request(`${f.url}/api/applications/${id}/documents`, {
    method: 'POST',
    headers: {
      cookie: c.cookie,
      'x-csrf-token': c.csrf,
      'content-type': 'multipart/form-data; boundary=stall',
      'content-length': '100000',
    },
  });
  req.on('error', () => {}); // destroyed on purpose
  req.write('--stall\r\nContent-Disposition: form-data; name="file"; filename="d.png"\r\nContent-Type: image/png\r\n\r\n');
  return req;
}

describe('uploads in flight', () => {
  test('beyond UPLOADS_IN_FLIGHT_PER_USER a user gets 429, beyond UPLOADS_IN_FLIGHT_MAX anyone gets 503, both with Retry-After; slots come back', async () => {
    const other = await f.client('reviewer');
    const third = await f.client('reviewer');
    const png = await renderDocument();
    const stalled = [stalledUpload(reviewer, await create()), stalledUpload(reviewer, await create())];
    try {
      await waitFor('two uploads to hold their slots', async () => (await uploadsInFlight()) === 2);
      const mine = await reviewer.upload(await create(), png);
      assert.equal(mine.status, 429, JSON.stringify(mine.body));
      assert.equal(mine.headers.get('retry-after'), '1');
      assert.equal((await other.upload(await create(), png)).status, 201, 'another user still has room');

      stalled.push(stalledUpload(other, await create()));
      await waitFor('three uploads to hold their slots', async () => (await uploadsInFlight()) === 3);
      const full = await third.upload(await create(), png);
      assert.equal(full.status, 503, JSON.stringify(full.body));
      assert.equal(full.body.status, 503);
      assert.equal(full.headers.get('retry-after'), '1');
    } finally {
      for (const r of stalled) r.destroy();
    }
    await waitFor('the slots of the abandoned uploads to come back', async () => (await uploadsInFlight()) === 0);
    assert.equal((await third.upload(await create(), png)).status, 201);
  });
});
