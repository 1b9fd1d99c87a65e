import type { Registry } from 'prom-client';
import type { ServerConfig } from '../lib/config.js';
import type { Collections } from '../lib/db/collections.js';
import type { Mongo } from '../lib/db/mongo.js';
import type { Deps } from '../lib/domain/applications/context.js';
import type { Logger } from '../lib/logger.js';

/** Everything the HTTP layer needs, built once in main.ts (or by a test) and passed to createApp. */
export interface AppDeps {
  cfg: ServerConfig;
  mongo: Mongo;
  c: Collections;
  domain: Deps;
  logger: Logger;
  /** Set when shutdown starts: /ready answers 503 so the load balancer stops sending traffic. */
  lifecycle: { draining: boolean };
  metrics?: Registry;
}
