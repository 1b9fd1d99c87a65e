// A table of bad inputs for the partner routes and the partner administration: each gets the
// right 4xx in the problem-details shape, and nothing in the database changes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture } from '../helpers/fixture.js';
import type { Client } from '../helpers/http.js';
import { asPartner, loanRequest, type TestPartner, testPartner } from '../helpers/partners.js';
import { databaseSnapshot } from '../helpers/db.js';

const f = fixture('partnerbad', { api: true });
let admin: Client;
let reviewer: Client;
let p: TestPartner;
let appId: string;
let adminsApp: string;

f.before(async () => {
  admin = await f.client('admin');
  reviewer = await f.client('reviewer');
  p = await testPartner(admin);
  adminsApp = (await reviewer.create()).id;
  appId = (await asPartner(f.url, p.key, 'POST', '/api/loan/request', loanRequest())).body.id;
});

/** Everything a bad request could have changed (sessions and login counters aside). */
// A refused loan request is recorded in the error log (tests/integration/error-log.test.ts) and
// counts against the partner's rate (a lease from rate_limits) by design; nothing else may change.
const snapshot = () => databaseSnapshot(f.t.mongo.db, { except: ['error_log', 'rate_limits'] });

const big = 'x'.repeat(200 * 1024);
const app = (over: Record<string, unknown>) => ({ ...(loanRequest().application as object), ...over });
type Who = 'partner' | 'admin' | 'reviewer';
type Case = [name: string, who: Who, method: string, path: () => string, body: unknown, status: number, headers?: Record<string, string>];

const cases = (): Case[] => [
  // POST /api/loan/request
  ['submit: unknown key', 'partner', 'POST', () => '/api/loan/request', { ...loanRequest(), status: 'approved' }, 400],
  ['submit: unknown applicant key', 'partner', 'POST', () => '/api/loan/request', loanRequest({ application: app({ ssn: '1' }) }), 400],
  ['submit: amount as a string', 'partner', 'POST', () => '/api/loan/request', loanRequest({ amount: '1000' }), 400],
  ['submit: negative income', 'partner', 'POST', () => '/api/loan/request', loanRequest({ income: -1 }), 400],
  ['submit: creditScore out of range', 'partner', 'POST', () => '/api/loan/request', loanRequest({ creditScore: 1200 }), 400],
  ['submit: creditScore not an integer', 'partner', 'POST', () => '/api/loan/request', loanRequest({ creditScore: 700.5 }), 400],
  ['submit: operator in loanId', 'partner', 'POST', () => '/api/loan/request', loanRequest({ loanId: { $gt: '' } }), 400],
  [
    'submit: operator in email',
    'partner',
    'POST',
    () => '/api/loan/request',
    loanRequest({ application: app({ email: { $ne: null } }) }),
    400,
  ],
  ['submit: bad email', 'partner', 'POST', () => '/api/loan/request', loanRequest({ application: app({ email: 'not-an-email' }) }), 400],
  ['submit: bad phone', 'partner', 'POST', () => '/api/loan/request', loanRequest({ application: app({ phone: 'call me' }) }), 400],
  ['submit: under age', 'partner', 'POST', () => '/api/loan/request', loanRequest({ application: app({ age: 12 }) }), 400],
  ['submit: missing application', 'partner', 'POST', () => '/api/loan/request', { ...loanRequest(), application: undefined }, 400],
  ['submit: loanId with spaces', 'partner', 'POST', () => '/api/loan/request', loanRequest({ loanId: 'a b' }), 400],
  ['submit: loanId too long', 'partner', 'POST', () => '/api/loan/request', loanRequest({ loanId: 'x'.repeat(65) }), 400],
  [
    'submit: prototype key',
    'partner',
    'POST',
    () => '/api/loan/request',
    `{"__proto__":{"x":1},${JSON.stringify(loanRequest()).slice(1)}`,
    400,
  ],
  ['submit: array body', 'partner', 'POST', () => '/api/loan/request', [loanRequest()], 400],
  ['submit: malformed JSON', 'partner', 'POST', () => '/api/loan/request', '{"loanId": ', 400],
  ['submit: no body', 'partner', 'POST', () => '/api/loan/request', undefined, 400],
  ['submit: huge body', 'partner', 'POST', () => '/api/loan/request', loanRequest({ purpose: big }), 413],
  [
    'submit: text/plain',
    'partner',
    'POST',
    () => '/api/loan/request',
    JSON.stringify(loanRequest()),
    415,
    { 'content-type': 'text/plain' },
  ],
  ['submit: bad Idempotency-Key', 'partner', 'POST', () => '/api/loan/request', loanRequest(), 400, { 'idempotency-key': 'x'.repeat(300) }],
  ['submit: no key', 'admin', 'POST', () => '/api/loan/request', loanRequest(), 401],
  ['submit: garbage bearer', 'partner', 'POST', () => '/api/loan/request', loanRequest(), 401, { authorization: 'Bearer {"$gt":""}' }],
  ['submit: empty bearer', 'partner', 'POST', () => '/api/loan/request', loanRequest(), 401, { authorization: 'Bearer ' }],
  // GET /api/loan/request/:id
  ['status: bad id', 'partner', 'GET', () => '/api/loan/request/123', undefined, 400],
  ['status: operator-looking id', 'partner', 'GET', () => '/api/loan/request/%7B%22%24gt%22%3A%22%22%7D', undefined, 400],
  ['status: not a partner application', 'partner', 'GET', () => `/api/loan/request/${adminsApp}`, undefined, 404],
  ['status: no key', 'admin', 'GET', () => `/api/loan/request/${appId}`, undefined, 401],
  // partner administration
  ['partners: reviewer role', 'reviewer', 'POST', () => '/api/partners', { name: 'x', rateLimitPerSecond: 10 }, 403],
  ['partners: with a partner key', 'partner', 'GET', () => '/api/partners', undefined, 401],
  ['partners: unknown key', 'admin', 'POST', () => '/api/partners', { name: 'x', rateLimitPerSecond: 10, admin: true }, 400],
  ['partners: rate as a string', 'admin', 'POST', () => '/api/partners', { name: 'x', rateLimitPerSecond: '10' }, 400],
  ['partners: zero rate', 'admin', 'POST', () => '/api/partners', { name: 'x', rateLimitPerSecond: 0 }, 400],
  ['partners: operator name', 'admin', 'POST', () => '/api/partners', { name: { $gt: '' }, rateLimitPerSecond: 10 }, 400],
  ['partners: huge body', 'admin', 'POST', () => '/api/partners', { name: big, rateLimitPerSecond: 10 }, 413],
  ['keys: bad partner id', 'admin', 'POST', () => '/api/partners/nope/keys', undefined, 400],
  ['keys: unknown partner', 'admin', 'POST', () => '/api/partners/0123456789abcdef01234567/keys', undefined, 404],
  ['keys: body fields', 'admin', 'POST', () => `/api/partners/${p.id}/keys`, { hash: 'x' }, 400],
  ['revoke: bad key id', 'admin', 'POST', () => `/api/partners/${p.id}/keys/nope/revoke`, undefined, 400],
  ['revoke: unknown key', 'admin', 'POST', () => `/api/partners/${p.id}/keys/0123456789abcdef01234567/revoke`, undefined, 404],
];

test('every bad partner-intake request is a 4xx problem and writes nothing', async () => {
  const before = await snapshot();
  for (const [name, who, method, path, body, status, headers = {}] of cases()) {
    const r =
      who === 'partner'
        ? await asPartner(f.url, p.key, method, path(), body, headers)
        : await (who === 'admin' ? admin : reviewer).req(method, path(), body, headers);
    assert.equal(r.status, status, `${name}: ${JSON.stringify(r.body)}`);
    assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/, name);
    assert.equal(r.body.status, status, name);
    assert.ok(r.body.type && r.body.title && r.body.detail, name);
  }
  assert.equal(await snapshot(), before, 'nothing was written');
});
