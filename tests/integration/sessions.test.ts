// Sessions live in MongoDB: one made through instance A works on instance B, and after both
// restart. Real server processes on one MongoDB.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createUser } from '../../lib/domain/users/users.js';
import { testDb, type TestDb } from '../helpers/db.js';
import { PASSWORD, sampleApplication, spawnServer, type ServerProcess } from '../helpers/app.js';
import { Client } from '../helpers/http.js';
import { freePort } from '../../scripts/stack/ports.js';

let t: TestDb;
const running: ServerProcess[] = [];
before(async () => {
  t = await testDb('sessions');
  await createUser(t.c, { email: 'ops@test.local', password: PASSWORD, role: 'reviewer' });
});
after(async () => { await Promise.all(running.map((s) => s.stop('SIGKILL'))); await t.close(); });

async function start(port: number) { const s = await spawnServer(t, port); running.push(s); return s; }

test('a session created on instance A works on instance B, and after both restart', async () => {
  const [pa, pb] = [await freePort(), await freePort()];
  let [a, b] = [await start(pa), await start(pb)];
  const onA = new Client(a.url);
  assert.equal((await onA.login('ops@test.local', PASSWORD)).status, 200);

  const onB = new Client(b.url);
  onB.cookie = onA.cookie;
  onB.csrf = onA.csrf;
  const me = await onB.get('/api/auth/me');
  assert.equal(me.status, 200);
  assert.equal(me.body.user.email, 'ops@test.local');
  assert.equal((await onB.post('/api/applications', sampleApplication())).status, 201, 'a write with the CSRF token from A works on B');

  assert.equal(await a.stop(), 0, 'SIGTERM exits 0');
  assert.equal(await b.stop(), 0);
  [a, b] = [await start(pa), await start(pb)];
  assert.equal((await onA.get('/api/auth/me')).status, 200, 'valid on A after restart');
  assert.equal((await onB.get('/api/auth/me')).status, 200, 'valid on B after restart');

  assert.equal((await onB.post('/api/auth/logout')).status, 204);
  assert.equal((await onA.get('/api/auth/me')).status, 401, 'logout on B ends the session on A');
});

test('a misconfigured server exits 1 naming the variable', async () => {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: { ...process.env, MONGO_URI: t.uri, SESSION_SECRETS: 'short', PORT: 'abc' }, encoding: 'utf8', timeout: 30_000,
  });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /SESSION_SECRETS/);
  assert.match(r.stderr, /PORT/);
});
