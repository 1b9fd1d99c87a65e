// A table of bad inputs per endpoint: each gets the right 4xx in the problem-details shape, and
// nothing in the database changes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture } from '../helpers/fixture.js';
import { Client } from '../helpers/http.js';
import { sampleApplication } from '../helpers/samples.js';
import { databaseSnapshot } from '../helpers/db.js';

const f = fixture('badinput', { api: true });
let admin: Client;
let reviewer: Client;
let viewer: Client;
let id: string;

f.before(async () => {
  admin = await f.client('admin');
  reviewer = await f.client('reviewer');
  viewer = await f.client('viewer');
  id = (await reviewer.create()).id;
  // A dead letter a body-less purge or retry-all would touch.
  const now = new Date();
  await f.t.mongo.db.collection('events').insertOne({
    type: 'test.dead',
    payload: {},
    state: 'dead',
    priority: 0,
    runAt: now,
    attempts: 3,
    errors: [],
    recoveries: 0,
    createdAt: now,
    deadAt: now,
  });
});

/** Everything a bad request could have changed. */
const snapshot = () => databaseSnapshot(f.t.mongo.db);

type Who = 'anon' | 'viewer' | 'reviewer' | 'admin' | 'reviewer-no-csrf';
type Case = [name: string, who: Who, method: string, path: () => string, body: unknown, status: number, headers?: Record<string, string>];
const put = () => `/api/applications/${id}`;
const big = 'x'.repeat(200 * 1024);
const user = () => `/api/users/${userId}`;
let userId = '';
/** A JSON filter sent with a content type the API does not parse (415, never "no filter"). */
const notJson = (label: string, path: string): Case[] =>
  (
    [
      ['text/plain', 'text/plain'],
      ['form', 'application/x-www-form-urlencoded'],
      ['vnd.api+json', 'application/vnd.api+json'],
    ] as const
  ).map(
    ([kind, type]): Case => [
      `${label}: JSON filter as ${kind}`,
      'admin',
      'POST',
      () => path,
      '{"type":"test.dead"}',
      415,
      { 'content-type': type },
    ],
  );
/** Checks a 415's problem names the type the route expects. */
const expectedType = (path: string) => (/\/documents$/.test(path) ? 'multipart/form-data' : 'application/json');

/** Built when the test runs, after `id` exists. */
const cases = (): Case[] => [
  // auth
  ['login: unknown field', 'anon', 'POST', () => '/api/auth/login', { email: 'a@b.c', password: 'x', admin: true }, 400],
  ['login: operator injection in email', 'anon', 'POST', () => '/api/auth/login', { email: { $gt: '' }, password: 'x' }, 400],
  ['login: operator injection in password', 'anon', 'POST', () => '/api/auth/login', { email: 'a@b.c', password: { $ne: null } }, 400],
  ['login: malformed JSON', 'anon', 'POST', () => '/api/auth/login', '{"email": ', 400],
  ['login: huge body', 'anon', 'POST', () => '/api/auth/login', { email: 'a@b.c', password: big }, 413],
  ['login: wrong credentials', 'anon', 'POST', () => '/api/auth/login', { email: 'nobody@x.io', password: 'wrong-password' }, 401],
  ['me: no session', 'anon', 'GET', () => '/api/auth/me', undefined, 401],
  // list
  ['list: no session', 'anon', 'GET', () => '/api/applications', undefined, 401],
  ['list: unknown query key', 'viewer', 'GET', () => '/api/applications?foo=1', undefined, 400],
  ['list: operator in query', 'viewer', 'GET', () => '/api/applications?status[$ne]=x', undefined, 400],
  ['list: bad status', 'viewer', 'GET', () => '/api/applications?status=paid', undefined, 400],
  ['list: bad sort', 'viewer', 'GET', () => '/api/applications?sort=passwordHash', undefined, 400],
  ['list: negative page', 'viewer', 'GET', () => '/api/applications?page=-1', undefined, 400],
  // get / history
  ['get: bad id', 'viewer', 'GET', () => '/api/applications/123', undefined, 400],
  ['get: operator-looking id', 'viewer', 'GET', () => '/api/applications/%7B%22%24gt%22%3A%22%22%7D', undefined, 400],
  ['history: bad id', 'viewer', 'GET', () => '/api/applications/nope/history', undefined, 400],
  // create
  ['create: viewer role', 'viewer', 'POST', () => '/api/applications', sampleApplication(), 403],
  ['create: no CSRF token', 'reviewer-no-csrf', 'POST', () => '/api/applications', sampleApplication(), 403],
  ['create: wrong CSRF token', 'reviewer', 'POST', () => '/api/applications', sampleApplication(), 403, { 'x-csrf-token': 'forged' }],
  ['create: unknown field', 'reviewer', 'POST', () => '/api/applications', { ...sampleApplication(), status: 'approved' }, 400],
  ['create: wrong types', 'reviewer', 'POST', () => '/api/applications', sampleApplication({ amount: '1000' }), 400],
  ['create: nested operator', 'reviewer', 'POST', () => '/api/applications', sampleApplication({ applicant: { $set: { age: 1 } } }), 400],
  [
    'create: under-age applicant',
    'reviewer',
    'POST',
    () => '/api/applications',
    sampleApplication({ applicant: { ...sampleApplication().applicant, age: 12 } }),
    400,
  ],
  ['create: array body', 'reviewer', 'POST', () => '/api/applications', [sampleApplication()], 400],
  ['create: huge body', 'reviewer', 'POST', () => '/api/applications', sampleApplication({ purpose: big }), 413],
  [
    'create: not JSON content type',
    'reviewer',
    'POST',
    () => '/api/applications',
    'amount=5',
    415,
    { 'content-type': 'application/x-www-form-urlencoded' },
  ],
  [
    'create: JSON as text/plain',
    'reviewer',
    'POST',
    () => '/api/applications',
    JSON.stringify(sampleApplication()),
    415,
    { 'content-type': 'text/plain' },
  ],
  [
    'create: body without a content type',
    'reviewer',
    'POST',
    () => '/api/applications',
    JSON.stringify(sampleApplication()),
    415,
    { 'content-type': '' },
  ],
  ['create: 1-character CSRF token', 'reviewer', 'POST', () => '/api/applications', sampleApplication(), 403, { 'x-csrf-token': 'x' }],
  // 43 characters like a real token, but each is 2 bytes in UTF-8
  [
    'create: non-ASCII CSRF token',
    'reviewer',
    'POST',
    () => '/api/applications',
    sampleApplication(),
    403,
    { 'x-csrf-token': '\u00e9'.repeat(43) },
  ],
  ['upload: JSON instead of multipart', 'reviewer', 'POST', () => `/api/applications/${id}/documents`, { file: 'x' }, 415],
  // update
  ['put: no session', 'anon', 'PUT', put, { version: 1, amount: 5 }, 401],
  ['put: viewer role', 'viewer', 'PUT', put, { version: 1, amount: 5 }, 403],
  ['put: no CSRF token', 'reviewer-no-csrf', 'PUT', put, { version: 1, amount: 5 }, 403],
  ['put: missing version', 'reviewer', 'PUT', put, { amount: 5 }, 400],
  ['put: version as operator', 'reviewer', 'PUT', put, { version: { $gte: 0 }, amount: 5 }, 400],
  ['put: unknown field', 'reviewer', 'PUT', put, { version: 1, $set: { version: 9 } }, 400],
  ['put: changing createdAt', 'reviewer', 'PUT', put, { version: 1, createdAt: '2020-01-01' }, 400],
  ['put: bad status', 'reviewer', 'PUT', put, { version: 1, status: 'paid' }, 400],
  ['put: illegal transition', 'reviewer', 'PUT', put, { version: 1, status: 'disbursed' }, 422],
  ['put: stale version', 'reviewer', 'PUT', put, { version: 7, amount: 5 }, 409],
  [
    'put: missing application',
    'reviewer',
    'PUT',
    () => '/api/applications/LOAN-00000000000000000000000000',
    { version: 1, amount: 5 },
    404,
  ],
  ['put: bad id', 'reviewer', 'PUT', () => '/api/applications/LOAN-1', { version: 1, amount: 5 }, 400],
  // batch
  ['batch: viewer role', 'viewer', 'POST', () => '/api/applications/batch-update', { applicationIds: [id], status: 'under_review' }, 403],
  ['batch: empty ids', 'reviewer', 'POST', () => '/api/applications/batch-update', { applicationIds: [], status: 'under_review' }, 400],
  [
    'batch: bad id inside',
    'reviewer',
    'POST',
    () => '/api/applications/batch-update',
    { applicationIds: [id, { $gt: '' }], status: 'under_review' },
    400,
  ],
  [
    'batch: unknown field',
    'reviewer',
    'POST',
    () => '/api/applications/batch-update',
    { applicationIds: [id], status: 'under_review', force: true },
    400,
  ],
  [
    'batch: bad versions map',
    'reviewer',
    'POST',
    () => '/api/applications/batch-update',
    { applicationIds: [id], status: 'under_review', versions: { [id]: 'one' } },
    400,
  ],
  // JSON.parse keeps "__proto__" as an own key; zod's record would drop it and apply the update unpinned
  ...(['__proto__', 'constructor', 'prototype'] as const).map(
    (key): Case => [
      `batch: "${key}" key in versions`,
      'reviewer',
      'POST',
      () => '/api/applications/batch-update',
      `{"applicationIds":["${id}"],"status":"under_review","versions":{"${key}":1}}`,
      400,
    ],
  ),
  [
    'batch: JSON as text/plain',
    'reviewer',
    'POST',
    () => '/api/applications/batch-update',
    JSON.stringify({ applicationIds: [id], status: 'under_review' }),
    415,
    { 'content-type': 'text/plain' },
  ],
  // admin: a filter the API did not parse is never "purge / retry everything"
  ...notJson('purge', '/api/admin/dead-letters/purge'),
  ...notJson('retry-all', '/api/admin/dead-letters/retry'),
  ['purge: "__proto__" key', 'admin', 'POST', () => '/api/admin/dead-letters/purge', '{"__proto__":{"type":"x"}}', 400],
  // users
  ['users: reviewer role', 'reviewer', 'POST', () => '/api/users', { email: 'new@x.io', password: 'a-long-password!', role: 'admin' }, 403],
  ['users: weak password', 'admin', 'POST', () => '/api/users', { email: 'new@x.io', password: 'short', role: 'admin' }, 400],
  ['users: bad role', 'admin', 'POST', () => '/api/users', { email: 'new@x.io', password: 'a-long-password!', role: 'root' }, 400],
  ['users: no body', 'admin', 'POST', () => '/api/users', undefined, 400],
  [
    'users: form body',
    'admin',
    'POST',
    () => '/api/users',
    'email=new@x.io&role=admin',
    415,
    { 'content-type': 'application/x-www-form-urlencoded' },
  ],
  ['change user: reviewer role', 'reviewer', 'PATCH', user, { role: 'admin' }, 403],
  ['change user: unknown role', 'admin', 'PATCH', user, { role: 'root' }, 400],
  ['change user: nothing to change', 'admin', 'PATCH', user, {}, 400],
  ['change user: no body', 'admin', 'PATCH', user, undefined, 400],
  ['change user: unknown field', 'admin', 'PATCH', user, { disabled: true, email: 'x@y.z' }, 400],
  ['change user: text/plain', 'admin', 'PATCH', user, '{"disabled":true}', 415, { 'content-type': 'text/plain' }],
  ['change user: bad id', 'admin', 'PATCH', () => '/api/users/123', { disabled: true }, 400],
  ['change user: missing user', 'admin', 'PATCH', () => '/api/users/0123456789abcdef01234567', { disabled: true }, 404],
  ['revoke: reviewer role', 'reviewer', 'POST', () => `${user()}/sessions/revoke`, undefined, 403],
  ['revoke: missing user', 'admin', 'POST', () => '/api/users/0123456789abcdef01234567/sessions/revoke', undefined, 404],
  ['password: no session', 'anon', 'POST', () => '/api/auth/password', { currentPassword: 'x', newPassword: 'a-long-new-password' }, 401],
  ['password: weak new password', 'viewer', 'POST', () => '/api/auth/password', { currentPassword: 'x', newPassword: 'short' }, 400],
  [
    'password: wrong current password',
    'viewer',
    'POST',
    () => '/api/auth/password',
    { currentPassword: 'not-it', newPassword: 'a-long-new-password' },
    401,
  ],
  // routing
  ['unknown route', 'admin', 'GET', () => '/api/nothing-here', undefined, 404],
];

test('every bad input gets its 4xx in the problem shape and changes nothing', async () => {
  const noCsrf = new Client(f.url);
  noCsrf.cookie = reviewer.cookie; // same session, but the caller never learned the token
  const clients: Record<Who, Client> = { anon: new Client(f.url), viewer, reviewer, admin, 'reviewer-no-csrf': noCsrf };
  userId = String((await f.t.c.users.findOne({ email: viewer.email }))!._id);
  const before = await snapshot();
  const failures: string[] = [];
  for (const [name, who, method, path, body, status, headers] of cases()) {
    const r = await clients[who].req(method, path(), body, headers);
    const shapeOk =
      r.body &&
      r.body.status === r.status &&
      typeof r.body.title === 'string' &&
      typeof r.body.detail === 'string' &&
      typeof r.body.type === 'string' &&
      typeof r.body.requestId === 'string' &&
      !JSON.stringify(r.body).includes('    at ');
    const namesType = r.status !== 415 || r.body?.expected === expectedType(path());
    if (r.status !== status || !shapeOk || !namesType) failures.push(`${name}: got ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
  }
  assert.deepEqual(failures, []);
  assert.equal(await snapshot(), before, 'a rejected request changed the database');
});
