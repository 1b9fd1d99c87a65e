import type { Db } from 'mongodb';
import { withLock } from '../locks/index.js';
import type { Logger } from '../logger.js';
import { MIGRATIONS } from './list.js';
import { runMigrations } from './runner.js';

/**
 * Applies pending migrations with one migrator at a time across processes (the `migrations`
 * lease lock, renewed while it runs): instances or launchers starting together wait, then find
 * nothing left to do. The steps stay idempotent in case a lease is ever lost mid-way.
 */
export function migrateExclusively(db: Db, opts: { log: Logger; batchSize: number; pauseMs: number }): Promise<{ applied: string[] }> {
  return withLock(db, 'migrations', 60_000, () => runMigrations(db, MIGRATIONS, opts), { waitMs: 10 * 60_000 });
}
