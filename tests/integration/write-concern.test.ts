// Writes the API acknowledges use an explicit majority + journal write concern (lib/db/mongo.ts),
// not the server's implicit default: checked on the wire with MongoDB's profiler, which records
// each insert command as the server received it, including its writeConcern.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Document } from 'mongodb';
import { fixture } from '../helpers/fixture.js';

const f = fixture('write-concern', { api: true });

/** Insert commands on the test database that were not part of a transaction, as profiled. */
async function profiledInserts(): Promise<Document[]> {
  const entries = await f.t.mongo.db.collection('system.profile').find({ op: 'insert' }).toArray();
  return entries.map((e) => e.command as Document).filter((c) => c.autocommit !== false);
}

test("the API's client writes with w: 'majority' and j: true; requests' plain inserts carry it on the wire", async () => {
  await f.t.mongo.db.command({ profile: 2 });
  try {
    // Writes made during real requests (login throttle and session, user creation), then one
    // insert through the API's own client.
    const admin = await f.client('admin');
    const created = await admin.post('/api/users', { email: 'wc-user@example.com', password: 'a-long-enough-password', role: 'viewer' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await f.api.ctx.db.collection('write_concern_probe').insertOne({ at: new Date() });

    const inserts = await profiledInserts();
    assert.ok(
      inserts.some((c) => c.insert === 'write_concern_probe'),
      'the probe insert was profiled',
    );
    for (const c of inserts) assert.deepEqual(c.writeConcern, { w: 'majority', j: true }, `insert into ${c.insert}`);
  } finally {
    await f.t.mongo.db.command({ profile: 0 });
  }
  assert.deepEqual({ w: f.api.ctx.db.writeConcern?.w, j: f.api.ctx.db.writeConcern?.journal }, { w: 'majority', j: true });
});
