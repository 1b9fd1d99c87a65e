import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture } from '../helpers/fixture.js';
import { Client } from '../helpers/http.js';
import { PASSWORD } from '../helpers/users.js';

const f = fixture('auth', { api: { LOGIN_MAX_FAILURES_PER_ACCOUNT: '3', LOGIN_MAX_FAILURES_PER_IP: '8' } });

test('login regenerates the session id, sets a hardened cookie and returns a CSRF token', async () => {
  await f.user('reviewer', 'rita@test.local');
  const cl = new Client(f.url);
  const r = await cl.login('Rita@Test.local', PASSWORD);
  assert.equal(r.status, 200);
  assert.equal(r.body.user.role, 'reviewer');
  assert.ok(r.body.csrfToken.length >= 32);
  const cookie = r.headers.getSetCookie().find((c) => c.startsWith('creditdesk.sid='))!;
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Lax/);
  assert.doesNotMatch(cookie, /Secure/, 'plain HTTP without a proxy saying https: no Secure flag');
  const first = cl.cookie;
  await cl.login('rita@test.local', PASSWORD);
  assert.notEqual(cl.cookie, first, 'a new session id on every login');
  const session = await f.t.mongo.db.collection('sessions').findOne({});
  assert.ok(session && !JSON.stringify(session).includes(PASSWORD));
});

test('the cookie is Secure behind a TLS-terminating proxy (one trusted hop)', async () => {
  await f.user('viewer', 'tls@test.local');
  const cl = new Client(f.url);
  const r = await cl.req('POST', '/api/auth/login', { email: 'tls@test.local', password: PASSWORD }, { 'x-forwarded-proto': 'https' });
  assert.match(r.headers.getSetCookie().join(';'), /Secure/);
});

test('bad credentials get one generic 401, and repeated failures are throttled per account with 429', async () => {
  await f.user('viewer', 'vic@test.local');
  const cl = new Client(f.url);
  const unknown = await cl.login('ghost@test.local', 'whatever-password');
  const wrong = await cl.login('vic@test.local', 'wrong-password');
  assert.equal(unknown.status, 401);
  assert.equal(wrong.status, 401);
  assert.equal(unknown.body.detail, wrong.body.detail, 'no hint whether the account exists');
  await cl.login('vic@test.local', 'wrong-password');
  await cl.login('vic@test.local', 'wrong-password');
  const blocked = await cl.login('vic@test.local', PASSWORD);
  assert.equal(blocked.status, 429, 'even the right password waits out the window');
  assert.ok(Number(blocked.headers.get('retry-after')) > 0);
  const counter = await f.t.c.loginAttempts.findOne({ _id: 'acct:vic@test.local' });
  assert.equal(counter!.failures, 3, 'the counter lives in MongoDB, shared by every instance');
});

test('failures from one IP across many accounts are throttled per IP', async () => {
  await f.t.c.loginAttempts.deleteMany({}); // earlier tests failed logins from this IP too
  const cl = new Client(f.url);
  const statuses: number[] = [];
  for (let i = 0; i < 12; i++) statuses.push((await cl.login(`nobody${i}@test.local`, 'wrong-password')).status);
  assert.ok(statuses.includes(429), `statuses: ${statuses}`);
  assert.equal(statuses.indexOf(429), 8, 'the 9th attempt after 8 failures from this IP is refused');
  await f.t.c.loginAttempts.deleteMany({}); // later tests log in from the same IP
});

test('an idle-expired or absolutely-expired session is refused', async () => {
  const cl = await f.client('viewer');
  assert.equal((await cl.get('/api/auth/me')).status, 200);
  const sid = decodeURIComponent(cl.cookie.split('=')[1]!).slice(2).split('.')[0]!;
  const sessions = f.t.mongo.db.collection<{ _id: string }>('sessions');
  await sessions.updateOne({ _id: sid }, { $set: { expires: new Date(Date.now() - 1000) } });
  assert.equal((await cl.get('/api/auth/me')).status, 401, 'idle timeout');

  const cl2 = await f.client('viewer');
  const sid2 = decodeURIComponent(cl2.cookie.split('=')[1]!).slice(2).split('.')[0]!;
  await sessions.updateOne({ _id: sid2 }, { $set: { 'session.createdAt': Date.now() - 13 * 3_600_000 } });
  assert.equal((await cl2.get('/api/auth/me')).status, 401, 'absolute timeout (12 h)');
});

test('an unchanged session is not rewritten on every request (touchAfter)', async () => {
  const cl = await f.client('viewer');
  const sid = decodeURIComponent(cl.cookie.split('=')[1]!).slice(2).split('.')[0]!;
  const sessions = f.t.mongo.db.collection<{ _id: string; lastModified?: Date }>('sessions');
  const before = await sessions.findOne({ _id: sid });
  for (let i = 0; i < 5; i++) await cl.get('/api/applications');
  const after = await sessions.findOne({ _id: sid });
  assert.deepEqual(after, before);
});

test('admins create users; the new user can log in', async () => {
  const admin = await f.client('admin');
  const r = await admin.post('/api/users', { email: 'New.Hire@Test.local', password: 'a-very-long-password', role: 'viewer' });
  assert.equal(r.status, 201);
  assert.equal(r.body.email, 'new.hire@test.local');
  assert.equal(
    (await admin.post('/api/users', { email: 'new.hire@test.local', password: 'a-very-long-password', role: 'viewer' })).status,
    409,
  );
  assert.equal((await new Client(f.url).login('new.hire@test.local', 'a-very-long-password')).status, 200);
});
