// Signing and verifying webhooks per the Standard Webhooks specification (standardwebhooks.com):
// headers `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature` (a space-
// separated list of `v1,<base64 HMAC-SHA-256 of "id.timestamp.body">`), secrets as
// `whsec_<base64>`. One implementation: the API's receiver verifies with it and the bureau
// simulator signs with it. Verification works on the RAW body bytes (parse only after it passed),
// compares in constant time, accepts any of several secrets (rotation) and refuses timestamps
// more than the tolerance away from now (either way), with a typed reason for the error log.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const WEBHOOK_ID = 'webhook-id';
export const WEBHOOK_TIMESTAMP = 'webhook-timestamp';
export const WEBHOOK_SIGNATURE = 'webhook-signature';

/** The spec's recommended tolerance: five minutes either way. */
export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

const SECRET_PREFIX = 'whsec_';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** A type alias (not an interface) so it is assignable to a plain header record. */
export type WebhookHeaders = {
  [WEBHOOK_ID]: string;
  [WEBHOOK_TIMESTAMP]: string;
  [WEBHOOK_SIGNATURE]: string;
};

/** Why a webhook was refused (for the error log and the 4xx answer). */
export type WebhookFailure = 'missing_headers' | 'bad_timestamp' | 'stale_timestamp' | 'bad_signature';

export type WebhookVerdict = { ok: true; id: string; timestamp: number } | { ok: false; reason: WebhookFailure };

export class WebhookSecretError extends Error {
  override name = 'WebhookSecretError';
}

/** The key bytes of a `whsec_<base64>` secret (the spec's range: 24 to 64 bytes). Throws WebhookSecretError otherwise. */
export function secretKey(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new WebhookSecretError('a webhook secret must look like whsec_<base64>');
  const b64 = secret.slice(SECRET_PREFIX.length);
  if (!BASE64.test(b64)) throw new WebhookSecretError('a webhook secret must be base64 after whsec_');
  const key = Buffer.from(b64, 'base64');
  if (key.length < 24 || key.length > 64) throw new WebhookSecretError('a webhook secret must decode to 24..64 bytes');
  return key;
}

/** A fresh random secret in the whsec_ form (32 bytes). */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

const toBuffer = (body: Uint8Array | string) => (typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body));

function mac(key: Buffer, id: string, timestamp: number, body: Uint8Array | string): Buffer {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`).update(toBuffer(body)).digest();
}

/** `v1,<base64 signature>` of one message under one secret. */
export function sign(secret: string, id: string, timestamp: number, body: Uint8Array | string): string {
  return `v1,${mac(secretKey(secret), id, timestamp, body).toString('base64')}`;
}

/** The three headers for sending `body` (timestamp: unix seconds, default now). */
export function signedHeaders(
  secret: string,
  id: string,
  body: Uint8Array | string,
  timestamp = Math.floor(Date.now() / 1000),
): WebhookHeaders {
  return { [WEBHOOK_ID]: id, [WEBHOOK_TIMESTAMP]: String(timestamp), [WEBHOOK_SIGNATURE]: sign(secret, id, timestamp, body) };
}

type HeaderSource = Headers | Record<string, string | string[] | undefined>;

/** One header value (Node's IncomingHttpHeaders, a plain record or a fetch Headers); a repeated header counts as missing. */
function header(h: HeaderSource, name: string): string | undefined {
  if (h instanceof Headers) return h.get(name) ?? undefined;
  const v = h[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export interface VerifyOptions {
  toleranceSeconds?: number;
  /** Now in milliseconds (tests). */
  now?: number;
}

/**
 * Verifies one delivery against the raw body bytes. `secrets`: every currently valid secret (two
 * during a rotation); a signature under any of them passes. Never throws for bad input; a bad
 * configured secret throws WebhookSecretError (a deployment error, not the sender's).
 */
export function verify(
  secrets: readonly string[],
  headers: HeaderSource,
  rawBody: Uint8Array | string,
  opts: VerifyOptions = {},
): WebhookVerdict {
  const keys = secrets.map(secretKey);
  const id = header(headers, WEBHOOK_ID);
  const ts = header(headers, WEBHOOK_TIMESTAMP);
  const sigs = header(headers, WEBHOOK_SIGNATURE);
  if (!id || !ts || !sigs) return { ok: false, reason: 'missing_headers' };
  if (!/^\d{1,12}$/.test(ts)) return { ok: false, reason: 'bad_timestamp' };
  const timestamp = Number(ts);
  const nowSeconds = Math.floor((opts.now ?? Date.now()) / 1000);
  if (Math.abs(nowSeconds - timestamp) > (opts.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS))
    return { ok: false, reason: 'stale_timestamp' };
  const expected = keys.map((k) => mac(k, id, timestamp, rawBody));
  for (const entry of sigs.split(' ')) {
    const comma = entry.indexOf(',');
    // Only v1 (symmetric) signatures; other versions (v1a: asymmetric) are skipped, as the spec says.
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue;
    const b64 = entry.slice(comma + 1);
    if (!BASE64.test(b64)) continue;
    const given = Buffer.from(b64, 'base64');
    // Lengths are public (32 bytes for SHA-256); timingSafeEqual needs equal lengths.
    if (expected.some((e) => e.length === given.length && timingSafeEqual(e, given))) return { ok: true, id, timestamp };
  }
  return { ok: false, reason: 'bad_signature' };
}
