// `npm run migrate`: applies pending migrations (idempotent, resumable, one migrator at a time).
import { migrateSchema } from '../lib/config.js';
import { migrateExclusively } from '../lib/migrations/exclusive.js';
import { cliContext } from './lib/cli.js';

const { cfg, log, ctx } = await cliContext('migrate', migrateSchema);
try {
  const { applied } = await migrateExclusively(ctx.db, { log, batchSize: cfg.MIGRATE_BATCH_SIZE, pauseMs: cfg.MIGRATE_BATCH_PAUSE_MS });
  log.info({ applied }, applied.length ? `applied ${applied.length} migration(s)` : 'nothing to migrate');
} finally {
  await ctx.close();
}
