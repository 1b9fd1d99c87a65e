// Shared bits for one-shot CLIs: the embedded dev MongoDB as default, a logger, a connection.
import { baseSchema, loadConfigOrExit } from '../../lib/config.js';
import { openContext, type Context } from '../../lib/context.js';
import { createLogger, type Logger } from '../../lib/logger.js';
import type { z } from 'zod';

export const EMBEDDED_PORT_DEFAULT = 27018;
export const embeddedUri = (port: number) => `mongodb://127.0.0.1:${port}/?replicaSet=rs0`;

/** CLIs default to the stack that `npm start` runs, so `npm run create-admin` just works beside it. */
export async function cliContext<S extends z.ZodType = typeof baseSchema>(name: string, schema?: S): Promise<{ cfg: z.output<S>; log: Logger; ctx: Context }> {
  process.env.MONGO_URI ??= embeddedUri(Number(process.env.MONGO_PORT ?? EMBEDDED_PORT_DEFAULT));
  const cfg = loadConfigOrExit(schema ?? baseSchema, name) as z.output<S> & z.output<typeof baseSchema>;
  const log = createLogger({ level: cfg.LOG_LEVEL, name, instance: cfg.INSTANCE_ID });
  const ctx = await openContext(cfg, log, `creditdesk-${name}`).catch((e: Error) => {
    console.error(`creditdesk ${name}: ${e.message}. Is \`npm start\` running, or is MONGO_URI right?`);
    process.exit(1);
  });
  return { cfg, log, ctx };
}
