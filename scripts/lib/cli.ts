// Shared bits for one-shot CLIs: the embedded dev MongoDB as default, a logger, a connection.
import { baseSchema, embeddedMongoSchema, embeddedMongoUri, loadConfigOrExit } from '../../lib/config.js';
import { openContext, type Context } from '../../lib/context.js';
import { createLogger, type Logger } from '../../lib/logger.js';
import { embeddedUriFor } from '../mongod/auth.js';
import type { z } from 'zod';

/**
 * CLIs default to the stack that `npm start` runs (its embedded mongod, as the migrator user whose
 * credentials npm start keeps in DATA_DIR), so `npm run create-admin` just works beside it.
 */
export async function cliContext<S extends z.ZodType = typeof baseSchema>(
  name: string,
  schema?: S,
): Promise<{ cfg: z.output<S>; log: Logger; ctx: Context }> {
  const mongo = loadConfigOrExit(embeddedMongoSchema, name);
  const MONGO_URI = mongo.MONGO_URI ?? embeddedUriFor(embeddedMongoUri(mongo.MONGO_PORT), mongo.DATA_DIR, 'migrator');
  const cfg = loadConfigOrExit(schema ?? baseSchema, name, { MONGO_URI }) as z.output<S> & z.output<typeof baseSchema>;
  const log = createLogger({ level: cfg.LOG_LEVEL, name, instance: cfg.INSTANCE_ID });
  const ctx = await openContext(cfg, log, `creditdesk-${name}`).catch((e: Error) => {
    console.error(`creditdesk ${name}: ${e.message}. Is \`npm start\` running, or is MONGO_URI right?`);
    process.exit(1);
  });
  return { cfg, log, ctx };
}
