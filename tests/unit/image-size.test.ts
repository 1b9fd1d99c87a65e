// Image dimensions from headers (PNG, JPEG, TIFF), read before anything decodes an upload.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { imageRefusal, imageSize, MAX_TIFF_PAGES } from '../../lib/domain/documents/image-size.js';
import { renderDocument } from '../fixtures/documents/render.js';
import { jpegHeader, pngHeader, tiffHeader } from '../fixtures/documents/headers.js';

describe('imageSize', () => {
  test('reads the real dimensions of rendered PNG, JPEG and TIFF documents', async () => {
    for (const fmt of ['png', 'jpg', 'tif'] as const) {
      const s = imageSize(await renderDocument(undefined, fmt));
      assert.deepEqual(s, { width: 1400, height: 560, pages: 1, pixels: 1400 * 560 }, fmt);
    }
  });

  test('reads what a header claims, in every format', () => {
    assert.deepEqual(imageSize(pngHeader(60_000, 60_000)), { width: 60_000, height: 60_000, pages: 1, pixels: 3.6e9 });
    assert.deepEqual(imageSize(jpegHeader(65_000, 65_000)), { width: 65_000, height: 65_000, pages: 1, pixels: 65_000 ** 2 });
    assert.deepEqual(imageSize(tiffHeader(5000, 4000, 3)), { width: 5000, height: 4000, pages: 3, pixels: 3 * 5000 * 4000 });
  });

  test('unreadable headers are null: truncated, no frame before the scan, zero size, too many TIFF pages', () => {
    assert.equal(imageSize(pngHeader(100, 100).subarray(0, 20)), null);
    assert.equal(imageSize(Buffer.from('\x89PNG\r\n\x1a\nnot really', 'latin1')), null);
    assert.equal(imageSize(Buffer.from([0xff, 0xd8, 0xff, 0xda, 0x00, 0x02, 0x00, 0x00])), null);
    assert.equal(imageSize(pngHeader(0, 100)), null);
    assert.equal(imageSize(tiffHeader(10, 10, MAX_TIFF_PAGES + 1)), null);
    assert.equal(imageSize(Buffer.from('%PDF-1.7')), null);
  });
});

describe('imageRefusal', () => {
  test('refuses more pixels than the limit (summed over TIFF pages) and unreadable headers; accepts the rest', () => {
    assert.equal(imageRefusal(pngHeader(1000, 1000), 1_000_000), null);
    assert.match(imageRefusal(pngHeader(1001, 1000), 1_000_000) ?? '', /1001×1000 \(1001000 pixels\); at most 1000000/);
    assert.match(imageRefusal(tiffHeader(1000, 1000, 2), 1_500_000) ?? '', /on 2 pages/);
    assert.match(imageRefusal(Buffer.from('nope'), 1) ?? '', /cannot be read/);
  });
});
