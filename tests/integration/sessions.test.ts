// Sessions live in MongoDB: one made through instance A works on instance B, and after both
// restart. Real server processes on one MongoDB.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freePort } from '../helpers/stack.js';
import { fixture } from '../helpers/fixture.js';
import { Client } from '../helpers/http.js';
import { sampleApplication } from '../helpers/samples.js';
import type { TestUser } from '../helpers/users.js';

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
