// `npm run migrate`: applies pending migrations (idempotent, resumable).
import { migrateSchema } from '../lib/config.js';
import { MIGRATIONS } from '../lib/migrations/list.js';
import { runMigrations } from '../lib/migrations/runner.js';
import { cliContext } from './lib/cli.js';

const { cfg, log, mongo } = await cliContext('migrate', migrateSchema);
try {
  const { applied } = await runMigrations(mongo.db, MIGRATIONS, { log, batchSize: cfg.MIGRATE_BATCH_SIZE, pauseMs: cfg.MIGRATE_BATCH_PAUSE_MS });
  log.info({ applied }, applied.length ? `applied ${applied.length} migration(s)` : 'nothing to migrate');
} finally {
  await mongo.close();
}
