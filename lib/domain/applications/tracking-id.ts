import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'; // Crockford base32
export const TRACKING_ID_PATTERN = /^LOAN-[0-9A-HJKMNP-TV-Z]{26}$/;

/** `LOAN-` + a ULID: 10 time characters then 16 random ones, so ids sort by creation time. */
export function newTrackingId(now = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32]! + time;
    t = Math.floor(t / 32);
  }
  const bytes = randomBytes(16);
  let rand = '';
  for (let i = 0; i < 16; i++) rand += ALPHABET[bytes[i]! % 32];
  return `LOAN-${time}${rand}`;
}
