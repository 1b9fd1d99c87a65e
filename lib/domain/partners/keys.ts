// Partner API keys: `cdk_live_<32 base62 random>_<6 base62 CRC-32 of the random part>`. The
// checksum lets a mistyped or made-up key be refused without touching the database; only
// HMAC-SHA-256(key, secret) is stored, and hashes are compared in constant time.
import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';

const PREFIX = 'cdk_live_';
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_LENGTH = 32; // 32 × log2(62) ≈ 190 bits
const CHECKSUM_LENGTH = 6;
const KEY_PATTERN = /^cdk_live_([0-9A-Za-z]{32})_([0-9A-Za-z]{6})$/;

/** `n` in base62, left-padded to `width`. */
function base62(n: number, width: number): string {
  let out = '';
  for (let v = n; v > 0; v = Math.floor(v / 62)) out = ALPHABET[v % 62] + out;
  return out.padStart(width, '0');
}

const checksumOf = (random: string) => base62(crc32(random), CHECKSUM_LENGTH);

/** A new key (shown to the admin once, never stored). */
export function newPartnerKey(): string {
  let random = '';
  for (let i = 0; i < RANDOM_LENGTH; i++) random += ALPHABET[randomInt(62)];
  return `${PREFIX}${random}_${checksumOf(random)}`;
}

/** Whether `key` has the shape and a matching checksum: the check made before any database read. */
export function wellFormedKey(key: string): boolean {
  const m = KEY_PATTERN.exec(key);
  return m !== null && m[2] === checksumOf(m[1]!);
}

/** The first characters of a key, kept to tell keys apart in lists (not enough to guess it). */
export const keyHint = (key: string) => key.slice(0, PREFIX.length + 4);

/** HMAC-SHA-256 of the key with one secret, hex. */
export const hashKey = (key: string, secret: string) => createHmac('sha256', secret).update(key).digest('hex');

/** Constant-time equality of two hex hashes. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === 32 && x.length === y.length && timingSafeEqual(x, y);
}
