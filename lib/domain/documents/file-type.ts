// Decides a file's type from its first bytes: the declared mime type is only a claim.
export type ImageType = 'image/png' | 'image/jpeg' | 'image/tiff';

const SIGNATURES: Array<[ImageType, number[]]> = [
  ['image/png', [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
  ['image/jpeg', [0xff, 0xd8, 0xff]],
  ['image/tiff', [0x49, 0x49, 0x2a, 0x00]],
  ['image/tiff', [0x4d, 0x4d, 0x00, 0x2a]],
];

export function sniffImageType(buf: Buffer): ImageType | null {
  for (const [type, sig] of SIGNATURES) if (sig.every((b, i) => buf[i] === b)) return type;
  return null;
}
