import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MIGRATIONS } from '../../lib/migrations/list.js';
import { migrationRecords, runMigrations } from '../../lib/migrations/runner.js';
import { fakeApplication } from '../../scripts/seed.js';
import { silentLog, testDb } from '../helpers/db.js';
import { fixture } from '../helpers/fixture.js';

const f = fixture('migrations', { migrate: false });

/** The migrate CLI (scripts/migrate.ts) as a process on the test's database, or another one. */
const migrateProcess = (env: Record<string, string> = {}) =>
  f.procs.node('migrate', 'scripts/migrate.ts', { MONGO_URI: f.t.uri, MONGO_DB: f.t.dbName, LOG_LEVEL: 'silent', ...env });
const exitCode = async (p: ReturnType<typeof migrateProcess>) => (await (await p).exitWithin(120_000)).code;

async function state() {
  const indexes: Record<string, unknown> = {};
  for (const c of ['users', 'applications', 'audit', 'login_attempts', 'sessions']) {
    indexes[c] = (await f.t.mongo.db.collection(c).indexes()).map((i) => i.name).sort();
  }
  return {
    indexes,
    migrations: await migrationRecords(f.t.mongo.db).find().sort({ _id: 1 }).toArray(),
    apps: await f.t.c.applications.find().sort({ _id: 1 }).toArray(),
  };
}

test('a crash mid-migration resumes from its checkpoint; a second run changes nothing', async () => {
  const docs = Array.from({ length: 4000 }, () => fakeApplication());
  docs.forEach((d, i) => {
    if (i % 10 === 0) d.version = 5;
    else delete (d as { version?: number }).version;
  });
  await f.t.c.applications.insertMany(docs);

  const p = await migrateProcess({ MIGRATE_BATCH_SIZE: '50', MIGRATE_BATCH_PAUSE_MS: '25' });
  let checkpoint: unknown;
  for (let i = 0; i < 600 && !checkpoint; i++) {
    checkpoint = (await migrationRecords(f.t.mongo.db).findOne({ _id: '002-backfill-application-version' }))?.checkpoint;
    if (!checkpoint) await sleep(10);
  }
  assert.ok(checkpoint, 'the backfill started and saved a checkpoint');
  await p.kill9();

  const rec = await migrationRecords(f.t.mongo.db).findOne({ _id: '002-backfill-application-version' });
  assert.equal(rec!.state, 'running', 'killed mid-way: not recorded as done');
  const missing = await f.t.c.applications.countDocuments({ version: { $exists: false } });
  assert.ok(missing > 0 && missing < 3600, `part done when killed (${missing} left)`);

  assert.equal(await exitCode(migrateProcess()), 0);
  assert.equal(await f.t.c.applications.countDocuments({ version: { $exists: false } }), 0);
  assert.equal(await f.t.c.applications.countDocuments({ version: 5 }), 400, 'existing versions untouched');
  assert.equal(await f.t.c.applications.countDocuments({ version: 1 }), 3600);
  assert.deepEqual(
    (await migrationRecords(f.t.mongo.db).find().toArray()).map((m) => [m._id, m.state]).sort(),
    MIGRATIONS.map((m) => [m.id, 'done']).sort(),
  );

  const first = await state();
  const again = await runMigrations(f.t.mongo.db, MIGRATIONS, { log: silentLog, batchSize: 100, pauseMs: 0 });
  assert.deepEqual(again.applied, []);
  assert.deepEqual(await state(), first, 'running twice leaves the same state');
  assert.ok((first.indexes.users as string[]).includes('email_unique'));
});

test('three migrators started at once all succeed and leave one record per migration', async () => {
  const t2 = await testDb('migrations_race', { migrate: false });
  try {
    await t2.c.applications.insertMany(
      Array.from({ length: 2000 }, () => {
        const d = fakeApplication();
        delete (d as { version?: number }).version;
        return d;
      }),
    );
    const env = { MONGO_DB: t2.dbName, MIGRATE_BATCH_SIZE: '100' };
    const codes = await Promise.all([migrateProcess(env), migrateProcess(env), migrateProcess(env)].map(exitCode));
    assert.deepEqual(codes, [0, 0, 0]);
    assert.equal(await t2.c.applications.countDocuments({ version: 1 }), 2000);
    assert.equal(await migrationRecords(t2.mongo.db).countDocuments({ state: 'done' }), MIGRATIONS.length);
  } finally {
    await t2.close();
  }
});
