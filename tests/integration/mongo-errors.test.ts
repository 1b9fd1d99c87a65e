// What a client gets when MongoDB answers a request with an error of a failing-over replica set
// that the driver could not absorb by itself: injected with MongoDB's own fault injection (the
// failCommand fail point on a throwaway replica set with test commands on), aimed by appName at the
// in-process API's connection only. Each is a 503 problem with Retry-After that changed nothing,
// and the client's retry succeeds; an error that means a bug stays a 500.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import type { Document } from 'mongodb';
import { fixture } from '../helpers/fixture.js';
import { Client, type Res } from '../helpers/http.js';
import { testReplicaSet } from '../helpers/replica-set.js';

// The set must exist before the fixture makes its database: top-level await, then MONGO_URI.
await testReplicaSet('mongo-errors', { members: 1, testCommands: true });
const INSTANCE_ID = 'failpoint';
const f = fixture('mongo-errors', { api: { INSTANCE_ID } });
let admin: Client;
f.before(async () => {
  admin = await f.client('admin');
});

/** The next `times` commands named in `data.failCommands` from the API's connection fail as `data` says. */
async function failNext(times: number, data: Document): Promise<void> {
  await f.t.mongo.db.admin().command({
    configureFailPoint: 'failCommand',
    mode: { times },
    data: { appName: `creditdesk-api-${INSTANCE_ID}`, ...data },
  });
}

afterEach(async () => {
  await f.t.mongo.db.admin().command({ configureFailPoint: 'failCommand', mode: 'off' });
});

function assertRetryable503(r: Res, what: string): void {
  assert.equal(r.status, 503, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
  assert.equal(r.headers.get('retry-after'), '1');
  assert.equal(r.body.type, 'https://creditdesk.dev/problems/database_unavailable');
  assert.equal(r.body.stack, undefined);
}

test('a commit the new primary does not know (NoSuchTransaction, unlabelled): 503 + Retry-After, nothing changed; the retry applies it', async () => {
  const app = await admin.create();
  // What a commit retried on a just-elected primary answers when it could not confirm the abort
  // durably either: no TransientTransactionError label, so the driver does not retry it.
  await failNext(1, { failCommands: ['commitTransaction'], errorCode: 251, errorLabels: [] });
  const review = () => admin.put(`/api/applications/${app.id}`, { version: 1, status: 'under_review' });
  assertRetryable503(await review(), 'the failed commit');
  const stored = await f.t.c.applications.findOne({ _id: app.id });
  assert.equal(stored?.version, 1, 'the application is unchanged');
  assert.equal(stored?.status, 'submitted');
  assert.equal(await f.t.c.audit.countDocuments({ entityId: app.id, action: 'status' }), 0, 'no audit entry');
  const retried = await review();
  assert.equal(retried.status, 200);
  assert.equal(retried.body.version, 2);
});

for (const [code, name] of [
  [134, 'ReadConcernMajorityNotAvailableYet'],
  [262, 'ExceededTimeLimit'],
] as const) {
  test(`a read that fails twice with ${name} (the driver retries once): 503 + Retry-After; then it reads`, async () => {
    const app = await admin.create();
    await failNext(2, { failCommands: ['find'], errorCode: code });
    assertRetryable503(await admin.get(`/api/applications/${app.id}`), name);
    const again = await admin.get(`/api/applications/${app.id}`);
    assert.equal(again.status, 200);
    assert.equal(again.body.id, app.id);
  });
}

test('a write whose majority write concern failed (wtimeout): 503 + Retry-After, since its durability is unknown', async () => {
  // A plain (non-transaction) write of a request: the first update of a sign-in.
  await failNext(1, {
    failCommands: ['update'],
    writeConcernError: {
      code: 64,
      codeName: 'WriteConcernFailed',
      errmsg: 'waiting for replication timed out',
      errInfo: { wtimeout: true },
    },
  });
  const fresh = await f.user('reviewer');
  const cl = new Client(f.url);
  assertRetryable503(await cl.login(fresh.email, fresh.password), 'sign-in');
  assert.equal((await cl.login(fresh.email, fresh.password)).status, 200, 'the retried sign-in');
});

test('an error that means a bug (BadValue) stays a 500 problem without details', async () => {
  const app = await admin.create();
  await failNext(1, { failCommands: ['find'], errorCode: 2 });
  const r = await admin.get(`/api/applications/${app.id}`);
  assert.equal(r.status, 500);
  assert.equal(r.body.type, 'https://creditdesk.dev/problems/internal');
  assert.equal(r.body.detail, 'an unexpected error occurred');
  assert.equal(r.headers.get('retry-after'), null);
});
