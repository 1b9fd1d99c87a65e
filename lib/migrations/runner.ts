// Applies migrations in order and records each in the `migrations` collection. Every step is
// idempotent, and long steps save a checkpoint so a crash resumes where it stopped.
import type { Db } from 'mongodb';
import type { Logger } from '../logger.js';
import { collections, type Collections } from '../domain/collections.js';

export interface MigrationDoc {
  _id: string;
  state: 'running' | 'done';
  startedAt: Date;
  appliedAt?: Date;
  checkpoint?: unknown;
}

/** The record of each migration: running (with its checkpoint) or done. */
export const migrationRecords = (db: Db) => db.collection<MigrationDoc>('migrations');

export interface MigrationContext {
  db: Db;
  c: Collections;
  log: Logger;
  batchSize: number;
  pauseMs: number;
  checkpoint: unknown;
  saveCheckpoint(value: unknown): Promise<void>;
}
export interface Migration {
  id: string;
  description: string;
  up(ctx: MigrationContext): Promise<void>;
}

export async function runMigrations(
  db: Db,
  migrations: Migration[],
  opts: { log: Logger; batchSize: number; pauseMs: number },
): Promise<{ applied: string[] }> {
  const c = collections(db);
  const records = migrationRecords(db);
  const applied: string[] = [];
  for (const m of migrations) {
    const rec = await records.findOne({ _id: m.id });
    if (rec?.state === 'done') continue;
    if (!rec) await records.updateOne({ _id: m.id }, { $setOnInsert: { state: 'running', startedAt: new Date() } }, { upsert: true });
    opts.log.info({ migration: m.id, resumeFrom: rec?.checkpoint ?? null }, `migrating: ${m.description}`);
    const started = Date.now();
    await m.up({
      db,
      c,
      log: opts.log,
      batchSize: opts.batchSize,
      pauseMs: opts.pauseMs,
      checkpoint: rec?.checkpoint,
      saveCheckpoint: async (value) => {
        await records.updateOne({ _id: m.id }, { $set: { checkpoint: value } });
      },
    });
    await records.updateOne(
      { _id: m.id, state: 'running' },
      { $set: { state: 'done', appliedAt: new Date() }, $unset: { checkpoint: '' } },
    );
    opts.log.info({ migration: m.id, tookMs: Date.now() - started }, 'migration done');
    applied.push(m.id);
  }
  return { applied };
}
