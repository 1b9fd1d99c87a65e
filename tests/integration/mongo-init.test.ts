// The compose `mongo-init` job for real: a mongod started as compose starts it (replica set, --keyFile,
// so access control is on, nothing initiated), the secrets deploy/secrets.sh generates, then
// scripts/mongod/init-cluster.ts. It initiates the set, creates the first user through the
// localhost exception and the others as that user; a second run changes nothing and succeeds.
// Afterwards the server refuses anonymous writes and each user can do its role's work only.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { MongoClient } from 'mongodb';
import { uriWithCredentials } from '../../scripts/mongod/auth.js';
import { usersFromSecrets } from '../../scripts/mongod/init-cluster.js';
import { PROJECT_ROOT, resolveMongod } from '../../scripts/mongod/resolve.js';
import { processes } from '../helpers/processes.js';
import { freePort } from '../helpers/stack.js';
import { attempt } from '../helpers/mongo-access.js';

const procs = processes('mongo-init');
after(() => procs.stopAll());

test('init-cluster: replica set and least-privilege users on a keyfile mongod; idempotent', async () => {
  const secrets = join(procs.dir, 'secrets');
  execFileSync('sh', [join(PROJECT_ROOT, 'deploy/secrets.sh'), secrets], { stdio: 'ignore' });
  const dbPath = join(procs.dir, 'db');
  mkdirSync(dbPath);
  const port = await freePort();
  const bin = await resolveMongod(() => {});
  const mongodArgs = ['--replSet', 'rs0', '--bind_ip', '127.0.0.1', '--port', String(port), '--dbpath', dbPath];
  await procs.spawn(
    'mongod',
    bin.path,
    [...mongodArgs, '--keyFile', join(secrets, 'mongo-keyfile'), '--wiredTigerCacheSizeGB', '0.25'],
    {},
    {
      readyLine: 'Waiting for connections',
    },
  );

  const init = async () => {
    const p = await procs.node(
      'init',
      join(PROJECT_ROOT, 'scripts/mongod/init-cluster.ts'),
      {},
      {
        args: ['--members', `127.0.0.1:${port}`, '--port', String(port), '--db', 'creditdesk', '--secrets', secrets],
      },
    );
    assert.equal((await p.exitWithin(120_000)).code, 0, p.output());
    return p.output();
  };
  assert.match(
    await init(),
    /replica set rs0 initiated[\s\S]*users creditdesk-admin, creditdesk-migrator, creditdesk-api, creditdesk-worker are in place/,
  );

  const anonymous = `mongodb://127.0.0.1:${port}/?replicaSet=rs0`;
  const users = usersFromSecrets(secrets);
  const as = (role: keyof typeof users) => uriWithCredentials(anonymous, users[role]);
  const app = (c: MongoClient) => c.db('creditdesk');
  assert.equal(await attempt(anonymous, (c) => app(c).collection('users').insertOne({ email: 'x' })), 'Unauthorized');
  assert.equal(
    await attempt(anonymous, (c) => c.db('admin').command({ createUser: 'intruder', pwd: 'intruder-password', roles: ['root'] })),
    'Unauthorized',
  );
  assert.equal(await attempt(as('api'), (c) => app(c).collection('probe').insertOne({ ok: 1 })), 'ok');
  assert.equal(await attempt(as('api'), (c) => app(c).dropDatabase()), 'Unauthorized');
  assert.equal(await attempt(as('api'), (c) => c.db('other').collection('probe').insertOne({ ok: 1 })), 'Unauthorized');
  assert.equal(
    await attempt(as('api'), (c) => c.db('admin').command({ createUser: 'intruder', pwd: 'intruder-password', roles: [] })),
    'Unauthorized',
  );
  // The worker's queue wake-up is a change stream: find + changeStream on the app database.
  assert.equal(
    await attempt(as('worker'), async (c) => {
      const stream = app(c).collection('events').watch();
      await stream.tryNext();
      await stream.close();
    }),
    'ok',
  );
  assert.equal(await attempt(as('worker'), (c) => app(c).dropDatabase()), 'Unauthorized');
  assert.equal(await attempt(as('migrator'), (c) => app(c).collection('probe').createIndex({ ok: 1 })), 'ok');
  assert.equal(
    await attempt(as('migrator'), (c) => c.db('admin').command({ createUser: 'intruder', pwd: 'intruder-password', roles: [] })),
    'Unauthorized',
  );

  // Again (every `docker compose up` runs it): the exception is closed, the admin brings users up to date.
  writeFileSync(join(secrets, 'mongo_api_password'), 'a-rotated-api-password-0123456789\n');
  assert.doesNotMatch(await init(), /initiated/);
  assert.equal(await attempt(as('api'), (c) => app(c).collection('probe').insertOne({ ok: 1 })), 'AuthenticationFailed');
  const rotated = uriWithCredentials(anonymous, usersFromSecrets(secrets).api);
  assert.equal(await attempt(rotated, (c) => app(c).collection('probe').insertOne({ ok: 2 })), 'ok');
});
