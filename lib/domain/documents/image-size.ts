// Reads an image's dimensions from its header (PNG IHDR, JPEG SOF marker, TIFF IFDs) without
// decoding a pixel, so a small file that would decode into gigabytes (a decompression bomb) is
// refused before anything decodes it.
import { sniffImageType } from './file-type.js';

export interface ImageSize {
  width: number;
  height: number;
  /** Pages (TIFF may hold several; tesseract reads them all). */
  pages: number;
  /** width × height summed over the pages. */
  pixels: number;
}

/** TIFF pages read at most; a file with more is refused as unreadable. */
export const MAX_TIFF_PAGES = 32;

const size = (dims: Array<[number, number]>): ImageSize | null => {
  if (dims.length === 0 || dims.some(([w, h]) => w <= 0 || h <= 0)) return null;
  return { width: dims[0]![0], height: dims[0]![1], pages: dims.length, pixels: dims.reduce((n, [w, h]) => n + w * h, 0) };
};

function pngSize(b: Buffer): ImageSize | null {
  if (b.length < 24 || b.toString('latin1', 12, 16) !== 'IHDR') return null;
  return size([[b.readUInt32BE(16), b.readUInt32BE(20)]]);
}

/** Start-of-frame markers (baseline, progressive, lossless, arithmetic); not DHT (C4), JPG (C8), DAC (CC). */
const SOF = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

function jpegSize(b: Buffer): ImageSize | null {
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return null;
    const marker = b[i + 1]!;
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2; // markers without a length
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return null; // end of image / scan data before any frame header
    if (SOF.has(marker)) return i + 9 <= b.length ? size([[b.readUInt16BE(i + 7), b.readUInt16BE(i + 5)]]) : null;
    i += 2 + b.readUInt16BE(i + 2);
  }
  return null;
}

function tiffSize(b: Buffer): ImageSize | null {
  if (b.length < 8) return null;
  const le = b[0] === 0x49;
  const u16 = (o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const dims: Array<[number, number]> = [];
  const seen = new Set<number>();
  let ifd = u32(4);
  while (ifd !== 0) {
    if (seen.has(ifd) || dims.length >= MAX_TIFF_PAGES || ifd + 2 > b.length) return null;
    seen.add(ifd);
    const count = u16(ifd);
    if (ifd + 2 + count * 12 + 4 > b.length) return null;
    let width = 0;
    let height = 0;
    for (let k = 0; k < count; k++) {
      const e = ifd + 2 + k * 12;
      const tag = u16(e);
      if (tag !== 256 && tag !== 257) continue;
      const type = u16(e + 2);
      const value = type === 3 ? u16(e + 8) : type === 4 ? u32(e + 8) : 0; // SHORT or LONG
      if (tag === 256) width = value;
      else height = value;
    }
    dims.push([width, height]);
    ifd = u32(ifd + 2 + count * 12);
  }
  return size(dims);
}

/** The dimensions from the header; null when the file is not a PNG/JPEG/TIFF or its header cannot be read. */
export function imageSize(b: Buffer): ImageSize | null {
  switch (sniffImageType(b)) {
    case 'image/png':
      return pngSize(b);
    case 'image/jpeg':
      return jpegSize(b);
    case 'image/tiff':
      return tiffSize(b);
    default:
      return null;
  }
}

/** Why an image may not be decoded, or null when it may. */
export function imageRefusal(b: Buffer, maxPixels: number): string | null {
  const s = imageSize(b);
  if (!s) return 'the image header cannot be read (dimensions unknown)';
  if (s.pixels > maxPixels)
    return `the image is ${s.width}×${s.height}${s.pages > 1 ? ` on ${s.pages} pages` : ''} (${s.pixels} pixels); at most ${maxPixels} pixels are accepted`;
  return null;
}
