// The process context: ONE per process (API instance, worker process, script), built here and
// passed down. It holds the config, the logger, the one MongoClient and its database, the typed
// collections and the hooks every application change runs (the pipeline's outbox). Nothing else
// connects to MongoDB or assembles these parts.
import type { BaseConfig } from './config.js';
import { connectMongo, type Mongo } from './db/mongo.js';
import { collections } from './domain/collections.js';
import type { DomainContext } from './domain/context.js';
import { pipelineHooks } from './domain/pipeline/hooks.js';
import type { Logger } from './logger.js';

export interface Context<C extends BaseConfig = BaseConfig> extends DomainContext {
  cfg: C;
  log: Logger;
  /** Closes the MongoClient (idempotent). */
  close(): Promise<void>;
}

/** A context around an already connected client (scripts and tests that hold their own). */
export function contextOf<C extends BaseConfig>(cfg: C, log: Logger, mongo: Mongo): Context<C> {
  return {
    cfg,
    log,
    client: mongo.client,
    db: mongo.db,
    c: collections(mongo.db),
    hooks: pipelineHooks(mongo.db),
    close: mongo.close,
  };
}

/** Connects to MongoDB (MONGO_URI, MONGO_DB) as `appName` and builds the process context. */
export async function openContext<C extends BaseConfig>(cfg: C, log: Logger, appName: string): Promise<Context<C>> {
  const mongo = await connectMongo(cfg.MONGO_URI, cfg.MONGO_DB, appName).catch((e: Error) => {
    throw new Error(`cannot reach MongoDB at MONGO_URI: ${e.message}`, { cause: e });
  });
  return contextOf(cfg, log, mongo);
}
