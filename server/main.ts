// Process entry: config → Mongo → app → listen → graceful stop.
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfigOrExit, serverSchema } from '../lib/config.js';
import { collections } from '../lib/db/collections.js';
import { connectMongo } from '../lib/db/mongo.js';
import { pipelineHooks } from '../lib/domain/pipeline/hooks.js';
import { createLogger } from '../lib/logger.js';
import { createApp } from './app.js';
import type { AppDeps } from './deps.js';

const cfg = loadConfigOrExit(serverSchema, 'api');

const logger = createLogger({ level: cfg.LOG_LEVEL, name: 'api', instance: cfg.INSTANCE_ID });
const mongo = await connectMongo(cfg.MONGO_URI, cfg.MONGO_DB, `creditdesk-api-${cfg.INSTANCE_ID}`).catch((e: Error) => {
  logger.fatal({ err: e }, `cannot reach MongoDB at MONGO_URI: ${e.message}`);
  process.exit(1);
});
const c = collections(mongo.db);
const deps: AppDeps = { cfg, mongo, c, domain: { client: mongo.client, c, hooks: pipelineHooks(mongo.db) }, logger, lifecycle: { draining: false } };
const app = createApp(deps);

const server = app.listen(cfg.PORT, cfg.HOST);
server.keepAliveTimeout = cfg.KEEP_ALIVE_TIMEOUT_MS; // above the proxy's idle timeout, or it sees resets
server.headersTimeout = cfg.KEEP_ALIVE_TIMEOUT_MS + 5000;
server.once('error', (e: NodeJS.ErrnoException) => {
  logger.fatal({ err: e }, e.code === 'EADDRINUSE' ? `port ${cfg.PORT} is already in use: set PORT to a free port` : e.message);
  process.exit(1);
});
server.once('listening', () => {
  const a = server.address() as AddressInfo;
  logger.info({ port: a.port, host: a.address }, `api listening on http://${a.address}:${a.port}`);
});

// While draining, every response says `Connection: close`, so keep-alive connections (nginx
// reuses its upstream ones) end after their current request instead of holding the drain open.
let stopping = false;
const inflight = new Set<ServerResponse>();
server.on('request', (_req, res: ServerResponse) => {
  if (stopping) return void res.setHeader('Connection', 'close');
  inflight.add(res);
  res.once('close', () => inflight.delete(res));
});

async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  deps.lifecycle.draining = true;
  for (const res of inflight) if (!res.headersSent) res.setHeader('Connection', 'close');
  logger.info({ signal }, 'draining: /ready is 503, closing the listener, finishing in-flight requests');
  const force = setTimeout(() => {
    logger.warn('in-flight requests did not finish in time; closing their connections');
    server.closeAllConnections();
  }, cfg.SHUTDOWN_TIMEOUT_MS);
  force.unref();
  await new Promise<void>((res) => {
    server.close(() => res());
    server.closeIdleConnections();
  });
  clearTimeout(force);
  await mongo.close().catch((e: Error) => logger.error({ err: e }, 'closing MongoDB failed'));
  logger.info('stopped');
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
