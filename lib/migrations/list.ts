// The ordered migrations. Append new ones; never edit one that has shipped.
import { APPLICATION_INDEXES, LOAN_ID_INDEX } from '../domain/applications/repository.js';
import { BUCKET_INDEXES, bucketsCollection } from '../metrics/series-buckets.js';
import { ERROR_LOG_INDEXES } from '../domain/error-log/indexes.js';
import { RECONCILIATION_RUN_INDEXES } from '../domain/pipeline/reconcile-runs.js';
import { ensureCircuitBreakerIndexes } from '../limits/circuit-breaker-store.js';
import { RATE_LIMITS } from '../limits/gcra.js';
import { ensureLockIndexes } from '../locks/collection.js';
import { ensureQueueIndexes, migrateQueueIndexes } from '../queue/collection.js';
import { ensureWebhookReceiptIndexes } from '../webhooks/receipts.js';
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
        const batch = await c.applications
          .find(after ? { _id: { $gt: after } } : {}, { projection: { _id: 1 } })
          .sort({ _id: 1 })
          .limit(batchSize)
          .toArray();
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
  {
    id: '003-queue-and-locks',
    description: 'indexes for the events queue (claim, dedupe, TTL, dead letters) and the locks collection',
    async up({ db }) {
      await ensureQueueIndexes(db);
      await ensureLockIndexes(db);
    },
  },
  {
    id: '004-ledger-and-documents',
    description: 'ledger unique per application (the disbursement idempotency key); GridFS documents indexes',
    async up({ db, c }) {
      await c.ledger.createIndex({ applicationId: 1 }, { unique: true, name: 'applicationId_unique' });
      // The indexes the driver would create on first upload (same keys and names), plus lookup by application.
      await db.collection('documents.files').createIndex({ filename: 1, uploadDate: 1 }, { name: 'filename_1_uploadDate_1' });
      await db.collection('documents.files').createIndex({ 'metadata.applicationId': 1 }, { name: 'metadata.applicationId_1' });
      await db.collection('documents.chunks').createIndex({ files_id: 1, n: 1 }, { unique: true, name: 'files_id_1_n_1' });
    },
  },
  {
    id: '005-queue-recoveries-index',
    description: 'partial index of recovered events, so queue statistics stay fast with many completed events',
    async up({ db }) {
      await ensureQueueIndexes(db);
    },
  },
  {
    id: '006-sessions-by-user',
    description: "sessions by user id, so revoking a user's sessions (role change, disable, password change) is an index lookup",
    async up({ db }) {
      await db.collection('sessions').createIndex({ 'session.user.id': 1 }, { name: 'session.user.id_1' });
    },
  },
  {
    id: '007-partner-intake',
    description: 'partner keys by hash (unique) and by partner; the idempotency key unique per partner on intake applications',
    async up({ c }) {
      await c.partnerKeys.createIndex({ hash: 1 }, { unique: true, name: 'hash_unique' });
      await c.partnerKeys.createIndex({ partnerId: 1 }, { name: 'partnerId_1' });
      await c.applications.createIndex(
        { 'intake.partnerId': 1, 'intake.idempotencyKey': 1 },
        { unique: true, name: 'intake_idempotency_unique', partialFilterExpression: { 'intake.idempotencyKey': { $exists: true } } },
      );
    },
  },
  {
    id: '008-rate-limit-ttl',
    description: 'rate_limits: a bucket whose theoretical arrival time has passed is full, the same as no document: TTL-delete it',
    async up({ db }) {
      await db.collection(RATE_LIMITS).createIndex({ tat: 1 }, { expireAfterSeconds: 0, name: 'tat_ttl' });
    },
  },
  {
    id: '009-error-log',
    description: 'error log: unique dedup key, TTL on expiresAt, and one (filter…, lastSeen, _id) index per list filter shape',
    async up({ c }) {
      await c.errorLog.createIndexes(ERROR_LOG_INDEXES);
    },
  },
  {
    id: '010-vendor-resilience',
    description: 'webhook_receipts (unique by _id = source:webhook-id, TTL on expiresAt) and the shared circuit_breakers collection',
    async up({ db }) {
      await ensureWebhookReceiptIndexes(db);
      await ensureCircuitBreakerIndexes(db);
    },
  },
  {
    id: '011-queue-hot-path',
    description:
      'events: the TTL index covers completed events only (ttl_completed, partial), replacing ttl_expireAt, which held a key for every live event',
    async up({ db }) {
      await migrateQueueIndexes(db);
    },
  },
  {
    id: '012-partner-changes-index',
    description: "applications by partner and updatedAt: the partner status stream's catch-up after a reconnect (Last-Event-ID)",
    async up({ c }) {
      await c.applications.createIndex(
        { 'intake.partnerId': 1, updatedAt: 1, _id: 1 },
        { name: 'intake.partnerId_1_updatedAt_1__id_1', partialFilterExpression: { 'intake.partnerId': { $exists: true } } },
      );
    },
  },
  {
    id: '013-bureau-request-index',
    description: "applications by the credit bureau's request id: the bureau callback's lookup (POST /api/webhooks/credit-bureau)",
    async up({ c }) {
      await c.applications.createIndex(
        { 'bureau.requestId': 1 },
        { name: 'bureau.requestId_1', partialFilterExpression: { 'bureau.requestId': { $exists: true } } },
      );
    },
  },
  {
    id: '014-reconciliation-runs',
    description:
      'reconciliation_runs: newest first (startedAt) and TTL on expiresAt; the stuck-application scan uses status_1_updatedAt_-1__id_-1',
    async up({ c }) {
      await c.reconciliationRuns.createIndexes(RECONCILIATION_RUN_INDEXES);
    },
  },
  {
    id: '015-console-time-series',
    description:
      "metrics_buckets (the console's per-second and per-minute buckets): TTL on expireAt; applications by a partner's loanId (the console's search)",
    async up({ db, c }) {
      await bucketsCollection(db).createIndexes(BUCKET_INDEXES);
      await c.applications.createIndex(
        { 'intake.loanId': 1, 'intake.partnerId': 1 },
        { name: LOAN_ID_INDEX, partialFilterExpression: { 'intake.loanId': { $exists: true } } },
      );
    },
  },
];
