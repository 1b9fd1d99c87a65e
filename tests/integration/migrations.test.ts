import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import { MIGRATIONS } from '../../lib/migrations/list.js';
import { runMigrations } from '../../lib/migrations/runner.js';
import { fakeApplication } from '../../scripts/seed.js';
import { silentLog, testDb, type TestDb } from '../helpers/db.js';

let t: TestDb;
before(async () => { t = await testDb('migrations', { migrate: false }); });
after(async () => { await t.close(); });

function migrateProcess(env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'scripts/migrate.ts'], {
    env: { ...process.env, MONGO_URI: t.uri, MONGO_DB: t.dbName, LOG_LEVEL: 'silent', ...env }, stdio: 'ignore',
  });
}
const exited = (p: ChildProcess) => new Promise<number | null>((res) => (p.exitCode !== null ? res(p.exitCode) : p.once('exit', (c) => res(c))));

async function state() {
  const indexes: Record<string, unknown> = {};
  for (const c of ['users', 'applications', 'audit', 'login_attempts', 'sessions']) {
    indexes[c] = (await t.mongo.db.collection(c).indexes()).map((i) => i.name).sort();
  }
  return { indexes, migrations: await t.c.migrations.find().sort({ _id: 1 }).toArray(), apps: await t.c.applications.find().sort({ _id: 1 }).toArray() };
}

test('a crash mid-migration resumes from its checkpoint; a second run changes nothing', async () => {
  const docs = Array.from({ length: 4000 }, () => fakeApplication());
  docs.forEach((d, i) => { if (i % 10 === 0) d.version = 5; else delete (d as { version?: number }).version; });
  await t.c.applications.insertMany(docs);

  const p = migrateProcess({ MIGRATE_BATCH_SIZE: '50', MIGRATE_BATCH_PAUSE_MS: '25' });
  let checkpoint: unknown;
  for (let i = 0; i < 600 && !checkpoint; i++) {
    checkpoint = (await t.c.migrations.findOne({ _id: '002-backfill-application-version' }))?.checkpoint;
    if (!checkpoint) await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(checkpoint, 'the backfill started and saved a checkpoint');
  p.kill('SIGKILL');
  await exited(p);

  const rec = await t.c.migrations.findOne({ _id: '002-backfill-application-version' });
  assert.equal(rec!.state, 'running', 'killed mid-way: not recorded as done');
  const missing = await t.c.applications.countDocuments({ version: { $exists: false } });
  assert.ok(missing > 0 && missing < 3600, `part done when killed (${missing} left)`);

  assert.equal(await exited(migrateProcess()), 0);
  assert.equal(await t.c.applications.countDocuments({ version: { $exists: false } }), 0);
  assert.equal(await t.c.applications.countDocuments({ version: 5 }), 400, 'existing versions untouched');
  assert.equal(await t.c.applications.countDocuments({ version: 1 }), 3600);
  assert.deepEqual((await t.c.migrations.find().toArray()).map((m) => [m._id, m.state]).sort(),
    MIGRATIONS.map((m) => [m.id, 'done']).sort());

  const first = await state();
  const again = await runMigrations(t.mongo.db, MIGRATIONS, { log: silentLog, batchSize: 100, pauseMs: 0 });
  assert.deepEqual(again.applied, []);
  assert.deepEqual(await state(), first, 'running twice leaves the same state');
  assert.ok((first.indexes.users as string[]).includes('email_unique'));
});

test('three migrators started at once all succeed and leave one record per migration', async () => {
  const t2 = await testDb('migrations_race', { migrate: false });
  try {
    await t2.c.applications.insertMany(Array.from({ length: 2000 }, () => { const d = fakeApplication(); delete (d as { version?: number }).version; return d; }));
    const env = { MONGO_DB: t2.dbName, MIGRATE_BATCH_SIZE: '100' };
    const codes = await Promise.all([migrateProcess(env), migrateProcess(env), migrateProcess(env)].map(exited));
    assert.deepEqual(codes, [0, 0, 0]);
    assert.equal(await t2.c.applications.countDocuments({ version: 1 }), 2000);
    assert.equal(await t2.c.migrations.countDocuments({ state: 'done' }), MIGRATIONS.length);
  } finally {
    await t2.close();
  }
});
