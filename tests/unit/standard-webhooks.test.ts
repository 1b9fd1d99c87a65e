// Standard Webhooks signing and verification (lib/webhooks/standard-webhooks.ts): the spec's own
// test vector, every refusal reason, rotation, raw-body bytes, several signatures in one header.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateSecret, secretKey, sign, signedHeaders, verify, WebhookSecretError } from '../../lib/webhooks/standard-webhooks.js';

// The example from the specification (and the reference libraries' tests).
const SPEC_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const SPEC_ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const SPEC_TS = 1614265330;
const SPEC_BODY = '{"test": 2432232314}';
const SPEC_SIG = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';
const specNow = SPEC_TS * 1000;

test('signs the specification example to its published signature, and verifies it', () => {
  assert.equal(sign(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY), SPEC_SIG);
  const headers = { 'webhook-id': SPEC_ID, 'webhook-timestamp': String(SPEC_TS), 'webhook-signature': SPEC_SIG };
  assert.deepEqual(verify([SPEC_SECRET], headers, SPEC_BODY, { now: specNow }), { ok: true, id: SPEC_ID, timestamp: SPEC_TS });
  // The same from bytes and from a fetch Headers object.
  assert.equal(verify([SPEC_SECRET], new Headers(headers), Buffer.from(SPEC_BODY), { now: specNow }).ok, true);
});

test('verification is over the raw bytes: the same JSON re-serialized, or one byte changed, is a bad signature', () => {
  const secret = generateSecret();
  const body = '{"a": 1, "b": [1,2]}';
  const h = signedHeaders(secret, 'msg_1', body);
  assert.equal(verify([secret], h, body).ok, true);
  assert.deepEqual(verify([secret], h, JSON.stringify(JSON.parse(body))), { ok: false, reason: 'bad_signature' });
  assert.deepEqual(verify([secret], h, body.replace('1,', '3,')), { ok: false, reason: 'bad_signature' });
  // The id and timestamp are signed too.
  assert.deepEqual(verify([secret], { ...h, 'webhook-id': 'msg_2' }, body), { ok: false, reason: 'bad_signature' });
  const ts = Number(h['webhook-timestamp']);
  assert.deepEqual(verify([secret], { ...h, 'webhook-timestamp': String(ts + 1) }, body), { ok: false, reason: 'bad_signature' });
});

test('missing or repeated headers → missing_headers; a non-integer timestamp → bad_timestamp', () => {
  const secret = generateSecret();
  const h = signedHeaders(secret, 'msg_1', '{}');
  for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const) {
    const { [name]: _gone, ...rest } = h;
    assert.deepEqual(verify([secret], rest, '{}'), { ok: false, reason: 'missing_headers' }, name);
    assert.deepEqual(verify([secret], { ...h, [name]: '' }, '{}'), { ok: false, reason: 'missing_headers' }, `${name} empty`);
    assert.deepEqual(
      verify([secret], { ...h, [name]: [h[name], h[name]] }, '{}'),
      { ok: false, reason: 'missing_headers' },
      `${name} twice`,
    );
  }
  for (const bad of ['abc', '1.5', '-5', '1e9', ' 123'])
    assert.deepEqual(verify([secret], { ...h, 'webhook-timestamp': bad }, '{}'), { ok: false, reason: 'bad_timestamp' }, bad);
});

test('timestamps more than 5 minutes away either way are stale, the edge of the window is not', () => {
  const secret = generateSecret();
  const now = 1_800_000_000_000;
  const at = (ts: number) => verify([secret], signedHeaders(secret, 'msg_1', '{}', ts), '{}', { now });
  const nowS = now / 1000;
  assert.equal(at(nowS - 300).ok, true);
  assert.equal(at(nowS + 300).ok, true);
  assert.deepEqual(at(nowS - 301), { ok: false, reason: 'stale_timestamp' });
  assert.deepEqual(at(nowS + 301), { ok: false, reason: 'stale_timestamp' });
  assert.equal(verify([secret], signedHeaders(secret, 'm', '{}', nowS - 1000), '{}', { now, toleranceSeconds: 1000 }).ok, true);
});

test('rotation: any of the valid secrets verifies; a secret that is not configured does not', () => {
  const [oldS, newS, other] = [generateSecret(), generateSecret(), generateSecret()];
  const body = '{"x":1}';
  assert.equal(verify([newS, oldS], signedHeaders(oldS, 'm1', body), body).ok, true);
  assert.equal(verify([newS, oldS], signedHeaders(newS, 'm2', body), body).ok, true);
  assert.deepEqual(verify([newS, oldS], signedHeaders(other, 'm3', body), body), { ok: false, reason: 'bad_signature' });
  assert.deepEqual(verify([], signedHeaders(other, 'm4', body), body), { ok: false, reason: 'bad_signature' });
});

test('a header with several signatures passes if one v1 signature matches; other versions and junk are skipped', () => {
  const [s1, s2] = [generateSecret(), generateSecret()];
  const ts = Math.floor(Date.now() / 1000);
  const good = sign(s1, 'm', ts, 'b');
  const list = (...sigs: string[]) => ({ 'webhook-id': 'm', 'webhook-timestamp': String(ts), 'webhook-signature': sigs.join(' ') });
  assert.equal(verify([s1], list(sign(s2, 'm', ts, 'b'), good), 'b').ok, true);
  assert.equal(verify([s1], list('v1a,abc', 'junk', 'v1,!!!', good), 'b').ok, true);
  // The right bytes under another version label are not accepted.
  assert.deepEqual(verify([s1], list(good.replace('v1,', 'v2,')), 'b'), { ok: false, reason: 'bad_signature' });
  assert.deepEqual(verify([s1], list('v1,'), 'b'), { ok: false, reason: 'bad_signature' });
  // A truncated signature (different length) is refused without throwing.
  assert.deepEqual(verify([s1], list(good.slice(0, -8)), 'b'), { ok: false, reason: 'bad_signature' });
});

test('secrets must be whsec_<base64> of 24..64 bytes; a bad configured secret is a configuration error', () => {
  assert.equal(secretKey(SPEC_SECRET).length, 24);
  assert.equal(secretKey(generateSecret()).length, 32);
  for (const bad of [
    'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    'whsec_',
    'whsec_c2hvcnQ=',
    `whsec_${Buffer.alloc(65).toString('base64')}`,
    'whsec_not base64!',
  ])
    assert.throws(() => secretKey(bad), WebhookSecretError, bad);
  assert.throws(() => verify(['nope'], signedHeaders(SPEC_SECRET, 'm', 'b'), 'b'), WebhookSecretError);
});
