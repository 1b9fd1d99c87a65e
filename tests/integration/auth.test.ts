import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recordLoginFailure, reserveLoginAttempt, throttleKeys } from '../../lib/domain/users/login-throttle.js';
import { AppError } from '../../lib/errors.js';
import { fixture } from '../helpers/fixture.js';
import { Client } from '../helpers/http.js';
import { PASSWORD } from '../helpers/users.js';
import { waitFor } from '../helpers/wait.js';

// No progressive delay here (LOGIN_DELAY_BASE_MS=0) so failures can follow each other; the delay has its own API below.
const f = fixture('auth', { api: { LOGIN_MAX_FAILURES_PER_ACCOUNT: '3', LOGIN_MAX_FAILURES_PER_IP: '8', LOGIN_DELAY_BASE_MS: '0' } });

/** A login from client address `ip` (one trusted proxy hop: the API keys the throttle on X-Forwarded-For). */
const loginFrom = (url: string, ip: string, email: string, password: string) =>
  new Client(url).req('POST', '/api/auth/login', { email, password }, { 'x-forwarded-for': ip });
const sidOf = (cl: Client) => decodeURIComponent(cl.cookie.split('=')[1]!).slice(2).split('.')[0]!;

test('login regenerates the session id, sets a hardened cookie and returns a CSRF token', async () => {
  await f.user('reviewer', 'rita@test.local');
  const cl = new Client(f.url);
  const r = await cl.login('Rita@Test.local', PASSWORD);
  assert.equal(r.status, 200);
  assert.equal(r.body.user.role, 'reviewer');
  assert.ok(r.body.csrfToken.length >= 32);
  const cookie = r.headers.getSetCookie().find((c) => c.startsWith('creditdesk.sid='))!;
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  assert.match(cookie, /Path=\//);
  assert.doesNotMatch(cookie, /Domain=/);
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
  const counter = await f.t.c.loginAttempts.findOne({ _id: { $regex: /^pair:vic@test\.local / } });
  assert.equal(counter!.failures, 3, 'the counter lives in MongoDB, shared by every instance');
  assert.equal(counter!.inflight, 0, 'every reservation was settled');
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
  const sid = sidOf(cl);
  const sessions = f.t.mongo.db.collection<{ _id: string }>('sessions');
  // These edits are made straight in MongoDB: the instance's session cache hears of them through
  // its change stream (ADR 0030), within milliseconds but not before the next line runs.
  const refusedSoon = (c: Client, what: string) =>
    waitFor(what, async () => (await c.get('/api/auth/me')).status === 401, { timeoutMs: 3000 });
  await sessions.updateOne({ _id: sid }, { $set: { expires: new Date(Date.now() - 1000) } });
  await refusedSoon(cl, 'idle timeout');

  const cl2 = await f.client('viewer');
  const sid2 = sidOf(cl2);
  await sessions.updateOne({ _id: sid2 }, { $set: { 'session.createdAt': Date.now() - 7 * 3_600_000 } });
  assert.equal((await cl2.get('/api/auth/me')).status, 200, 'within the absolute timeout (8 h)');
  await sessions.updateOne({ _id: sid2 }, { $set: { 'session.createdAt': Date.now() - 9 * 3_600_000 } });
  await refusedSoon(cl2, 'absolute timeout (8 h)');
});

test('an unchanged session is not rewritten on every request (touchAfter)', async () => {
  const cl = await f.client('viewer');
  const sid = sidOf(cl);
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

test("a stranger's failures from one address do not lock the account's owner out at another", async () => {
  await f.t.c.loginAttempts.deleteMany({});
  const owner = await f.user('admin', 'first.admin@test.local');
  const stranger = [];
  for (let i = 0; i < 5; i++) stranger.push((await loginFrom(f.url, '198.51.100.7', owner.email, 'guessing-passwords')).status);
  assert.deepEqual(stranger, [401, 401, 401, 429, 429], 'the stranger is stopped after 3 failures (this file’s limit)');
  assert.equal(
    (await loginFrom(f.url, '198.51.100.7', owner.email, owner.password)).status,
    429,
    'even with the right password from there',
  );
  const r = await loginFrom(f.url, '203.0.113.5', owner.email, owner.password);
  assert.equal(r.status, 200, 'the owner at another address logs in');
  await f.t.c.loginAttempts.deleteMany({});
});

test('each failure of an account from one address makes the next attempt wait longer (progressive delay)', async () => {
  const api = await f.startApi({ LOGIN_DELAY_BASE_MS: '60000', LOGIN_DELAY_CAP_MS: '600000' });
  const u = await f.user('viewer');
  assert.equal((await loginFrom(api.url, '192.0.2.10', u.email, 'wrong-password')).status, 401);
  const waiting = await loginFrom(api.url, '192.0.2.10', u.email, u.password);
  assert.equal(waiting.status, 429, 'the next attempt from that address waits (60 s after one failure)');
  const retryAfter = Number(waiting.headers.get('retry-after'));
  assert.ok(retryAfter > 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
  await f.t.c.loginAttempts.updateOne({ _id: { $regex: / 192\.0\.2\.10$/ } }, { $set: { notBefore: new Date(Date.now() - 1) } });
  assert.equal((await loginFrom(api.url, '192.0.2.10', u.email, 'wrong-password')).status, 401, 'once the delay has passed');
  const pair = await f.t.c.loginAttempts.findOne({ _id: { $regex: / 192\.0\.2\.10$/ } });
  const secondDelay = pair!.notBefore!.getTime() - Date.now();
  assert.ok(secondDelay > 60_000, `after two failures the wait doubles (about 120 s), got ${secondDelay} ms`);
  assert.equal((await loginFrom(api.url, '192.0.2.11', u.email, u.password)).status, 200, 'another address is not delayed');
  await f.t.c.loginAttempts.deleteMany({});
});

test('requireRole denies a role string it does not know (none is inherited from Object.prototype)', async () => {
  for (const role of ['superuser', 'constructor', '__proto__']) {
    const cl = await f.client('admin');
    const id = (await f.t.c.users.findOne({ email: cl.email }))!._id;
    // Both the user and the session say the odd role (before the first request, so no instance has
    // the user cached), so the current-state check lets the request through to requireRole.
    await f.t.c.users.updateOne({ _id: id }, { $set: { role: role as 'admin' } });
    await f.t.mongo.db.collection<{ _id: string }>('sessions').updateOne({ _id: sidOf(cl) }, { $set: { 'session.user.role': role } });
    const r = await cl.get('/api/users');
    assert.equal(r.status, 403, role);
  }
});

test('in production the cookie is __Host-creditdesk.sid: Secure, Path=/, no Domain, SameSite=Strict', async () => {
  const api = await f.startApi({ NODE_ENV: 'production' });
  const u = await f.user('viewer');
  const login = (headers: Record<string, string>) =>
    fetch(`${api.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ email: u.email, password: u.password }),
    });
  const tls = await login({ 'x-forwarded-proto': 'https' });
  assert.equal(tls.status, 200);
  const cookie = tls.headers.getSetCookie().find((c) => c.startsWith('__Host-creditdesk.sid='));
  assert.ok(cookie, tls.headers.getSetCookie().join(' | '));
  assert.match(cookie, /; Path=\/(;|$)/);
  assert.match(cookie, /; Secure/);
  assert.match(cookie, /; HttpOnly/);
  assert.match(cookie, /; SameSite=Strict/);
  assert.doesNotMatch(cookie, /Domain=/);
  const me = await fetch(`${api.url}/api/auth/me`, { headers: { cookie: cookie.split(';')[0]!, 'x-forwarded-proto': 'https' } });
  assert.equal(me.status, 200, 'the __Host- cookie is the session cookie');
  const plain = await login({});
  assert.equal(plain.status, 403, 'no sign-in over plain HTTP in production');
  assert.equal(((await plain.json()) as { type: string }).type, 'https://creditdesk.dev/problems/https_required');
  assert.deepEqual(plain.headers.getSetCookie(), [], 'and no session cookie');
});

test('at most LOGIN_MAX_INFLIGHT_PER_ACCOUNT verifications of one account run at once, from any addresses', async () => {
  const limits = { windowMs: 60_000, perAccount: 5, perIp: 50, inflightPerAccount: 2, delayBaseMs: 0, delayCapMs: 0 };
  const email = 'busy@test.local';
  const first = await reserveLoginAttempt(f.t.c, email, '192.0.2.1', limits);
  await reserveLoginAttempt(f.t.c, email, '192.0.2.2', limits);
  await assert.rejects(reserveLoginAttempt(f.t.c, email, '192.0.2.3', limits), (e: unknown) => e instanceof AppError && e.status === 429);
  const third = await f.t.c.loginAttempts.findOne({ _id: throttleKeys(email, '192.0.2.3').pair });
  assert.equal(third?.inflight, 0, 'the refused attempt gave its pair reservation back');
  await recordLoginFailure(f.t.c, first, limits);
  await reserveLoginAttempt(f.t.c, email, '192.0.2.3', limits);
  await f.t.c.loginAttempts.deleteMany({});
});
