// Production fails closed on money: a disbursement worker needs a payment gateway over https, and
// an approval worker a credit bureau unless deciding without one is declared (APPROVAL_WITHOUT_BUREAU).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseEnv, workerSchema } from '../../lib/config.js';

const base = { MONGO_URI: 'mongodb://db/?replicaSet=rs0', NODE_ENV: 'production', WORKER_ROLES: 'disbursement' };
const refused = (env: Record<string, string>) =>
  assert.throws(
    () => parseEnv(workerSchema, env),
    (e: unknown) => e instanceof ConfigError && /PAYMENT_GATEWAY_URL must be an https:\/\//.test(e.message),
  );

test('production disbursement worker: PAYMENT_GATEWAY_URL is required and must be https', () => {
  refused(base);
  refused({ ...base, PAYMENT_GATEWAY_URL: '' });
  refused({ ...base, PAYMENT_GATEWAY_URL: 'http://gateway.example:8443' });
  refused({ ...base, WORKER_ROLES: 'ocr,disbursement', PAYMENT_GATEWAY_URL: 'http://gateway.example' });
  assert.equal(
    parseEnv(workerSchema, { ...base, PAYMENT_GATEWAY_URL: 'https://gateway.example/v1' }).PAYMENT_GATEWAY_URL,
    'https://gateway.example/v1',
  );
});

test('production approval worker: BUREAU_URL is required unless APPROVAL_WITHOUT_BUREAU=true', () => {
  const approval = { ...base, WORKER_ROLES: 'approval' };
  const noBureau = /BUREAU_URL must be the credit bureau URL when NODE_ENV=production/;
  assert.throws(
    () => parseEnv(workerSchema, approval),
    (e: unknown) => e instanceof ConfigError && noBureau.test(e.message),
  );
  assert.throws(() => parseEnv(workerSchema, { ...approval, WORKER_ROLES: 'ocr,approval', BUREAU_URL: '' }), noBureau);
  assert.equal(parseEnv(workerSchema, { ...approval, BUREAU_URL: 'https://bureau.example' }).BUREAU_URL, 'https://bureau.example');
  assert.equal(parseEnv(workerSchema, { ...approval, APPROVAL_WITHOUT_BUREAU: 'true' }).APPROVAL_WITHOUT_BUREAU, true);
  assert.doesNotThrow(() => parseEnv(workerSchema, { ...approval, NODE_ENV: 'development' }), 'development decides without one');
});

test('other roles, and development, keep the ledger-only and plain-http options', () => {
  assert.doesNotThrow(() => parseEnv(workerSchema, { ...base, WORKER_ROLES: 'ocr,approval', APPROVAL_WITHOUT_BUREAU: 'true' }));
  assert.doesNotThrow(() => parseEnv(workerSchema, { ...base, NODE_ENV: 'development' }));
  assert.doesNotThrow(() => parseEnv(workerSchema, { ...base, NODE_ENV: 'test', PAYMENT_GATEWAY_URL: 'http://127.0.0.1:4100' }));
});
