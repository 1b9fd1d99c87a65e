// The per-instance session cache (server/middleware/session-cache.ts): real server processes on one
// MongoDB, each caching sessions for a minute (SESSION_CACHE_MS=60000) and users' access state for
// 10 s, so only the change stream on `sessions` can explain a revocation seen on another instance
// within the stated bound.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ServerProc } from '../helpers/app-processes.js';
import { fixture } from '../helpers/fixture.js';
import { Client } from '../helpers/http.js';
import { freePort } from '../helpers/stack.js';
import { loggedIn, type TestUser } from '../helpers/users.js';
import { waitFor } from '../helpers/wait.js';

/** The bound this file holds the cache to: a session change is seen by every instance within it. */
const REVOCATION_BOUND_MS = 3000;
// The users' access-state cache (role, epoch) is held long too, so it cannot be what ends a session here.
const CACHE = { SESSION_CACHE_MS: '60000', USER_STATE_CACHE_MS: '10000' };

const f = fixture('session-cache');
let a: ServerProc;
let b: ServerProc;
let ops: TestUser;
f.before(async () => {
  [a, b] = [await f.server(await freePort(), CACHE), await f.server(await freePort(), CACHE)];
  ops = await f.user('reviewer', 'cache-ops@test.local');
});

/** The same session (cookie and CSRF token) used against another instance. */
function sameSessionOn(url: string, c: Client): Client {
  const other = new Client(url);
  other.cookie = c.cookie;
  other.csrf = c.csrf;
  return other;
}

/** session_cache_reads_total{result} of one instance (its /metrics, straight from loopback). */
async function cacheReads(url: string): Promise<{ hit: number; miss: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (result: string) =>
    Number(new RegExp(`^session_cache_reads_total\\{result="${result}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { hit: read('hit'), miss: read('miss') };
}

test('an instance answers repeated requests of a session from its cache', async () => {
  const onA = await loggedIn(a.url, ops);
  const onB = sameSessionOn(b.url, onA);
  assert.equal((await onB.get('/api/auth/me')).status, 200); // B reads the session once…
  const before = await cacheReads(b.url);
  for (let i = 0; i < 5; i++) assert.equal((await onB.get('/api/auth/me')).status, 200);
  const after = await cacheReads(b.url);
  assert.equal(after.hit - before.hit, 5, `…then serves it from its cache (${JSON.stringify({ before, after })})`);
  assert.equal(after.miss, before.miss);
});

test('a logout on one instance ends the cached session on the other at once', async () => {
  const onA = await loggedIn(a.url, ops);
  const onB = sameSessionOn(b.url, onA);
  for (let i = 0; i < 3; i++) assert.equal((await onB.get('/api/auth/me')).status, 200); // cached on B
  assert.equal((await onA.post('/api/auth/logout')).status, 204);
  // The logout answers once A's change stream saw the delete, which B's stream gets at the same moment.
  assert.equal((await onB.get('/api/auth/me')).status, 401, 'B no longer serves the session');
  assert.equal((await onB.post('/api/applications', {})).status, 401, 'nor accepts a write with it');
});

test('"log out everywhere" (a password change) ends every cached session on every instance within the bound', async () => {
  const user = await f.user('reviewer', 'cache-everywhere@test.local');
  const first = await loggedIn(a.url, user);
  const second = await loggedIn(b.url, user);
  const firstOnB = sameSessionOn(b.url, first);
  const secondOnA = sameSessionOn(a.url, second);
  for (const c of [first, second, firstOnB, secondOnA]) assert.equal((await c.get('/api/auth/me')).status, 200); // cached on A and B
  const newPassword = 'an-entirely-new-passphrase-42';
  const changed = await first.post('/api/auth/password', { currentPassword: user.password, newPassword });
  assert.equal(changed.status, 200, JSON.stringify(changed.body));
  await waitFor(
    'the other sessions to end on both instances',
    async () => (await second.get('/api/auth/me')).status === 401 && (await secondOnA.get('/api/auth/me')).status === 401,
    { timeoutMs: REVOCATION_BOUND_MS, died: f.procs.died },
  );
});

test('a change to the user document (here a role changed in the database) ends the cached session within the bound', async () => {
  const user = await f.user('reviewer', 'cache-role@test.local');
  const onA = await loggedIn(a.url, user);
  const onB = sameSessionOn(b.url, onA);
  for (let i = 0; i < 3; i++) assert.equal((await onB.get('/api/auth/me')).status, 200); // the user's access state is cached on B
  // Outside the API (no session is deleted): only the change stream on `users` can tell B in time.
  await f.t.c.users.updateOne({ email: user.email }, { $set: { role: 'viewer' } });
  await waitFor('B to end the session of a user whose role changed', async () => (await onB.get('/api/auth/me')).status === 401, {
    timeoutMs: REVOCATION_BOUND_MS,
    died: f.procs.died,
  });
});
