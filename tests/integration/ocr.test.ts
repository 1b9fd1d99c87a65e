import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { extractFields } from '../../lib/domain/documents/extract-fields.js';
import { PermanentError } from '../../lib/queue/index.js';
import { ImageRejectedError, OcrError, recognize } from '../../lib/ocr/tesseract.js';
import { pngHeader } from '../fixtures/documents/headers.js';
import { KNOWN_DOCUMENT, renderDocument } from '../fixtures/documents/render.js';
import { fixture } from '../helpers/fixture.js';
import type { Client } from '../helpers/http.js';
import { sampleApplication } from '../helpers/samples.js';
import { waitFor } from '../helpers/wait.js';

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

  test('bytes whose image header cannot be read are refused before tesseract runs, permanently (no retry)', async () => {
    await assert.rejects(recognize(Buffer.from('\x89PNG\r\n\x1a\nnot really')), ImageRejectedError);
  });

  test('a decompression bomb (header claims 50,000 × 50,000) is refused without starting the engine', async () => {
    const run = recognize(pngHeader(50_000, 50_000), { bin: '/nonexistent/tesseract' });
    await assert.rejects(
      run,
      (e: Error) => e instanceof ImageRejectedError && e instanceof PermanentError && /2500000000 pixels/.test(e.message),
    );
    await assert.rejects(recognize(pngHeader(2000, 2000), { maxPixels: 3_999_999, bin: '/nonexistent/tesseract' }), ImageRejectedError);
  });

  test('the engine runs with a minimal environment (no MONGO_URI, no secrets) and an address-space limit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'creditdesk-tesseract-'));
    const bin = join(dir, 'tesseract');
    // A stand-in engine: drains the image, prints its environment and its virtual-memory limit (KiB).
    writeFileSync(bin, '#!/bin/sh\ncat >/dev/null\nenv\necho "ULIMIT_V=$(ulimit -v)"\n');
    chmodSync(bin, 0o755);
    process.env.CREDITDESK_TEST_SECRET = 'must-not-leak';
    try {
      assert.ok(process.env.MONGO_URI, 'the test process has MONGO_URI to leak');
      const out = await recognize(await renderDocument(), { bin, memoryLimitBytes: 512 * 1024 * 1024 });
      assert.doesNotMatch(out, /MONGO_URI|SESSION_SECRETS|CREDITDESK_TEST_SECRET|must-not-leak/);
      assert.match(out, /^OMP_THREAD_LIMIT=1$/m);
      assert.match(out, /^ULIMIT_V=524288$/m);
      assert.match(await recognize(await renderDocument(), { bin }), /^ULIMIT_V=1048576$/m, 'a 1 GiB limit by default');
    } finally {
      delete process.env.CREDITDESK_TEST_SECRET;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('OCR worker process', () => {
  const f = fixture('ocr', { api: true });
  let reviewer: Client;

  f.before(async () => {
    reviewer = await f.client('reviewer');
    await f.worker('ocr');
  });

  async function uploadFor(over: Record<string, unknown>, doc = KNOWN_DOCUMENT) {
    const a = await reviewer.create(over);
    const r = await reviewer.upload(a.id, await renderDocument(doc));
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const scored = await waitFor(
      'OCR to finish',
      async () => {
        const d = await f.t.c.applications.findOne({ _id: a.id });
        return d?.status !== 'ocr_pending' ? d : null;
      },
      { died: f.procs.died },
    );
    return { id: a.id, docId: r.body.document.id as string, app: scored };
  }

  test('writes the fields back, moves ocr_pending → scoring and publishes approval.requested in the same change', async () => {
    const { id, docId, app } = await uploadFor({});
    assert.equal(app.status, 'scoring');
    assert.equal(app.ocr!.documentId, docId);
    assert.deepEqual(app.ocr!.fields, { name: 'Ada Lovelace', income: 90_000, idNumber: 'AB1234567' });
    assert.deepEqual(app.ocr!.mismatches, []);
    const ev = await f.t.mongo.db.collection('events').findOne({ type: 'approval.requested', 'payload.applicationId': id });
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
    const a = await reviewer.create();
    const corrupt = pngHeader(100, 100); // a readable header (100 × 100), then junk where the data would be
    const up = await reviewer.upload(a.id, corrupt);
    assert.equal(up.status, 201);
    const app = await waitFor(
      'the application to fail',
      async () => {
        const d = await f.t.c.applications.findOne({ _id: a.id });
        return d?.status === 'failed' ? d : null;
      },
      { died: f.procs.died },
    );
    assert.equal(app.failure?.stage, 'ocr');
    assert.match(app.failure?.reason ?? '', /tesseract/);
    const ev = await waitFor('the dead letter', () =>
      f.t.mongo.db.collection('events').findOne({ dedupeKey: `ocr:${up.body.document.id}`, state: 'dead' }),
    );
    assert.equal(ev.attempts, 3);
  });

  test('an income within the tolerance is not a mismatch', async () => {
    const { app } = await uploadFor({ income: 85_000 });
    assert.deepEqual(app.ocr!.mismatches, []);
  });

  test('a bomb that got past the API (its IMAGE_MAX_PIXELS set higher) is refused by the OCR job at once: failed, dead after 1 attempt', async () => {
    const lax = await f.startApi({ IMAGE_MAX_PIXELS: '10000000000' });
    const uploader = await f.client('reviewer', lax.url);
    const a = await uploader.create();
    const up = await uploader.upload(a.id, pngHeader(50_000, 50_000));
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const app = await waitFor(
      'the application to fail',
      async () => {
        const d = await f.t.c.applications.findOne({ _id: a.id });
        return d?.status === 'failed' ? d : null;
      },
      { died: f.procs.died },
    );
    assert.match(app.failure?.reason ?? '', /ocr refused: .*2500000000 pixels/);
    const ev = await f.t.mongo.db.collection('events').findOne({ dedupeKey: `ocr:${up.body.document.id}` });
    assert.equal(ev?.state, 'dead');
    assert.equal(ev?.attempts, 1, 'a permanent refusal is not retried');
  });
});
