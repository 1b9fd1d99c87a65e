// The ordered migrations. Append new ones; never edit one that has shipped.
import { APPLICATION_INDEXES } from '../domain/applications/repository.js';
import type { Migration } from './runner.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const MIGRATIONS: Migration[] = [
  {
    id: '001-core-indexes',
    description: 'indexes for users, applications, audit, login throttling and sessions',
    async up({ db, c }) {
      await c.users.createIndex({ email: 1 }, { unique: true, name: 'email_unique' });
      await c.applications.createIndexes(APPLICATION_INDEXES);
      await c.audit.createIndex({ entityId: 1, at: 1 }, { name: 'entityId_1_at_1' });
      await c.loginAttempts.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0, name: 'ttl' });
      await db.collection('sessions').createIndex({ expires: 1 }, { expireAfterSeconds: 0, name: 'ttl' });
    },
  },
  {
    id: '002-backfill-application-version',
    description: 'give every application without a version field version 1 (batched, resumable)',
    async up({ c, batchSize, pauseMs, checkpoint, saveCheckpoint, log }) {
      let after = typeof checkpoint === 'string' ? checkpoint : undefined;
      let total = 0;
      for (;;) {
        const batch = await c.applications.find(after ? { _id: { $gt: after } } : {}, { projection: { _id: 1 } })
          .sort({ _id: 1 }).limit(batchSize).toArray();
        if (batch.length === 0) break;
        const ids = batch.map((d) => d._id);
        const r = await c.applications.updateMany({ _id: { $in: ids }, version: { $exists: false } }, { $set: { version: 1 } });
        total += r.modifiedCount;
        after = ids[ids.length - 1]!;
        await saveCheckpoint(after);
        if (pauseMs) await sleep(pauseMs);
      }
      log.info({ backfilled: total }, 'version backfill finished');
    },
  },
];
