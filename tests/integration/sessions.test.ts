// Sessions live in MongoDB: one made through instance A works on instance B, and after both
// restart. Real server processes on one MongoDB.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ObjectId } from 'mongodb';
import type { ServerProc } from '../helpers/app-processes.js';
import { freePort } from '../helpers/stack.js';
import { fixture } from '../helpers/fixture.js';
import { Client } from '../helpers/http.js';
import { sampleApplication } from '../helpers/samples.js';
import { loggedIn, type TestUser } from '../helpers/users.js';
import { waitFor } from '../helpers/wait.js';

const f = fixture('sessions');
let ops: TestUser;
f.before(async () => {
  ops = await f.user('reviewer', 'ops@test.local');
});

test('a session created on instance A works on instance B, and after both restart', async () => {
  const [pa, pb] = [await freePort(), await freePort()];
  let [a, b] = [await f.server(pa), await f.server(pb)];
  const onA = new Client(a.url);
  assert.equal((await onA.login(ops.email, ops.password)).status, 200);

  const onB = new Client(b.url);
  onB.cookie = onA.cookie;
  onB.csrf = onA.csrf;
  const me = await onB.get('/api/auth/me');
  assert.equal(me.status, 200);
  assert.equal(me.body.user.email, 'ops@test.local');
  assert.equal((await onB.post('/api/applications', sampleApplication())).status, 201, 'a write with the CSRF token from A works on B');

  assert.equal((await a.stop()).code, 0, 'SIGTERM exits 0');
  assert.equal((await b.stop()).code, 0);
  [a, b] = [await f.server(pa), await f.server(pb)];
  assert.equal((await onA.get('/api/auth/me')).status, 200, 'valid on A after restart');
  assert.equal((await onB.get('/api/auth/me')).status, 200, 'valid on B after restart');

  assert.equal((await onB.post('/api/auth/logout')).status, 204);
  assert.equal((await onA.get('/api/auth/me')).status, 401, 'logout on B ends the session on A');
});

test('a misconfigured server exits 1 naming the variable', async () => {
  const p = await f.procs.node('misconfigured-api', 'server/main.ts', { MONGO_URI: f.t.uri, SESSION_SECRETS: 'short', PORT: 'abc' });
  assert.equal((await p.exitWithin(30_000)).code, 1);
  assert.match(p.output(), /SESSION_SECRETS/);
  assert.match(p.output(), /PORT/);
});

test('50 concurrent wrong passwords for one account across 3 instances: at most the limit are verified, the rest 429', async () => {
  // No progressive delay and no in-flight cap here, so only the atomic reservation bounds the verifications.
  const env = { LOGIN_DELAY_BASE_MS: '0', LOGIN_MAX_INFLIGHT_PER_ACCOUNT: '50', LOGIN_MAX_FAILURES_PER_ACCOUNT: '5' };
  const servers = await Promise.all([0, 1, 2].map(async () => f.server(await freePort(), env)));
  const target = await f.user('viewer', 'target@test.local');
  const statuses = await Promise.all(
    Array.from({ length: 50 }, (_, i) => new Client(servers[i % 3]!.url).login(target.email, `wrong-password-${i}`).then((r) => r.status)),
  );
  const verified = statuses.filter((s) => s === 401).length;
  assert.equal(verified + statuses.filter((s) => s === 429).length, 50, `statuses: ${statuses}`);
  assert.ok(verified >= 1 && verified <= 5, `${verified} passwords were verified (limit 5)`);
  const pair = await f.t.c.loginAttempts.findOne({ _id: { $regex: /^pair:target@test\.local / } });
  assert.equal(pair?.failures, verified, 'one failure record per verification');
  assert.equal(pair?.inflight, 0);
  for (const s of servers) await s.stop();
  await f.t.c.loginAttempts.deleteMany({});
});

describe('revocation takes effect at once, across instances', () => {
  let a: ServerProc;
  let b: ServerProc;
  let admin: Client;
  let adminId: string;
  const idOf = async (email: string) => String((await f.t.c.users.findOne({ email }))!._id);
  const sessionsOf = (id: string) => f.t.mongo.db.collection('sessions').countDocuments({ 'session.user.id': id });

  f.before(async () => {
    // No progressive login delay: these tests log in right after a refused login.
    const env = { LOGIN_DELAY_BASE_MS: '0' };
    [a, b] = [await f.server(await freePort(), env), await f.server(await freePort(), env)];
    const boss = await f.user('admin', 'boss@test.local');
    admin = await loggedIn(a.url, boss);
    adminId = await idOf(boss.email);
  });

  test('a role change on A ends the user’s session on B; the new login has the new role', async () => {
    const u = await f.user('reviewer');
    const onB = await loggedIn(b.url, u);
    assert.equal((await onB.post('/api/applications', sampleApplication())).status, 201);
    const r = await admin.req('PATCH', `/api/users/${await idOf(u.email)}`, { role: 'viewer' });
    assert.equal(r.status, 200);
    assert.equal(r.body.role, 'viewer');
    assert.equal((await onB.get('/api/auth/me')).status, 401, 'the session is gone at once');
    const again = await loggedIn(b.url, u);
    assert.equal(again.role, 'viewer');
    assert.equal((await again.post('/api/applications', sampleApplication())).status, 403);
  });

  test('disabling ends the sessions and refuses logins; enabling lets the user back in', async () => {
    const u = await f.user('reviewer');
    const id = await idOf(u.email);
    const onB = await loggedIn(b.url, u);
    assert.equal((await admin.req('PATCH', `/api/users/${id}`, { disabled: true })).status, 200);
    assert.equal((await onB.get('/api/auth/me')).status, 401);
    assert.equal((await new Client(b.url).login(u.email, u.password)).status, 401);
    assert.equal((await admin.req('PATCH', `/api/users/${id}`, { disabled: false })).status, 200);
    assert.equal((await new Client(b.url).login(u.email, u.password)).status, 200);
  });

  test('"log out everywhere" ends every session of the user on every instance', async () => {
    const u = await f.user('viewer');
    const id = await idOf(u.email);
    const [onA, onB] = [await loggedIn(a.url, u), await loggedIn(b.url, u)];
    const r = await admin.post(`/api/users/${id}/sessions/revoke`);
    assert.equal(r.status, 200);
    assert.equal(r.body.revoked, 2);
    assert.equal((await onA.get('/api/auth/me')).status, 401);
    assert.equal((await onB.get('/api/auth/me')).status, 401);
    assert.equal(await sessionsOf(id), 0);
  });

  test('a password change needs the current password and ends the other sessions; the caller continues', async () => {
    const u = await f.user('viewer');
    const [onA, onB] = [await loggedIn(a.url, u), await loggedIn(b.url, u)];
    const next = 'a-brand-new-password-42';
    assert.equal((await onB.post('/api/auth/password', { currentPassword: 'not-the-password', newPassword: next })).status, 401);
    const r = await onB.post('/api/auth/password', { currentPassword: u.password, newPassword: next });
    assert.equal(r.status, 200);
    onB.csrf = r.body.csrfToken;
    assert.equal((await onA.get('/api/auth/me')).status, 401, 'the session on A ended');
    assert.equal((await onB.get('/api/auth/me')).status, 200, 'the caller has a fresh session');
    assert.equal((await onB.post('/api/auth/logout')).status, 204, 'with a working CSRF token');
    assert.equal((await new Client(a.url).login(u.email, u.password)).status, 401, 'the old password is gone');
    assert.equal((await new Client(a.url).login(u.email, next)).status, 200);
  });

  test('a session written back after its revocation, or a role changed in the database, is refused within the cache bound', async () => {
    const u = await f.user('reviewer');
    const id = await idOf(u.email);
    const onB = await loggedIn(b.url, u);
    const sessions = f.t.mongo.db.collection('sessions');
    const stored = await sessions.findOne({ 'session.user.id': id });
    assert.equal((await admin.post(`/api/users/${id}/sessions/revoke`)).status, 200);
    await sessions.insertOne(stored!); // as a request that was already running could write it back
    await waitFor(
      'the written-back session to be refused (session epoch; USER_STATE_CACHE_MS = 2 s)',
      async () => {
        return (await onB.get('/api/auth/me')).status === 401;
      },
      { timeoutMs: 15_000 },
    );

    const again = await loggedIn(b.url, u);
    await f.t.c.users.updateOne({ _id: new ObjectId(id) }, { $set: { role: 'viewer' } });
    await waitFor(
      'a role changed in the database to end the session',
      async () => {
        return (await again.get('/api/auth/me')).status === 401;
      },
      { timeoutMs: 15_000 },
    );
  });

  test('the last enabled admin cannot demote or disable themselves; two admins demoting each other leave one', async () => {
    const only = await f.t.c.users.countDocuments({ role: 'admin', disabled: { $ne: true } });
    assert.equal(only, 1, 'boss is the only admin here');
    assert.equal((await admin.req('PATCH', `/api/users/${adminId}`, { role: 'reviewer' })).status, 409);
    assert.equal((await admin.req('PATCH', `/api/users/${adminId}`, { disabled: true })).status, 409);
    const second = await f.user('admin');
    const other = await loggedIn(b.url, second);
    const otherId = await idOf(second.email);
    const [x, y] = await Promise.all([
      admin.req('PATCH', `/api/users/${otherId}`, { role: 'reviewer' }),
      other.req('PATCH', `/api/users/${adminId}`, { role: 'reviewer' }),
    ]);
    // The loser gets 409 (its transaction saw no admin left) or 401 (its own session already ended).
    assert.equal([x.status, y.status].filter((s) => s === 200).length, 1, `${x.status} ${y.status}`);
    assert.ok(
      [x.status, y.status].every((s) => [200, 401, 409].includes(s)),
      `${x.status} ${y.status}`,
    );
    assert.equal(await f.t.c.users.countDocuments({ role: 'admin', disabled: { $ne: true } }), 1, 'one enabled admin remains');
  });

  test('each admin action on a user is audited with its actor and request id', async () => {
    const entries = await f.t.c.audit.find({ entity: 'user' }).toArray();
    const actions = new Set(entries.map((e) => e.action));
    for (const a of ['user.changed', 'user.disabled', 'user.sessions_revoked', 'user.password_changed'])
      assert.ok(actions.has(a), `${a} in ${[...actions]}`);
    const revoked = entries.find((e) => e.action === 'user.sessions_revoked')!;
    assert.equal(revoked.actor.email, 'boss@test.local');
    assert.equal(typeof revoked.requestId, 'string');
    const disabled = entries.find((e) => e.action === 'user.disabled')!;
    assert.deepEqual(disabled.changes.disabled, { from: false, to: true });
  });
});
