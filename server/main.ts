// Process entry: config → Mongo → app → listen → graceful stop.
import type { ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
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

// Drain. The listener closes at once (new connections are refused, so nginx tries another
// instance: nothing was sent yet, safe even for a POST). Open keep-alive connections are NOT cut:
// closing an idle one races with nginx sending its next request on it, and a POST lost that way
// is a 502 nginx may not replay. Instead every response from now on says `Connection: close`, and
// idle connections end when nginx closes them (its upstream keepalive_timeout is below
// SHUTDOWN_TIMEOUT_MS). At the deadline whatever is left is closed.
let stopping = false;
const inflight = new Set<ServerResponse>();
server.on('request', (_req, res: ServerResponse) => {
  if (stopping) res.setHeader('Connection', 'close');
  inflight.add(res);
  res.once('close', () => inflight.delete(res));
});

async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  deps.lifecycle.draining = true;
  for (const res of inflight) if (!res.headersSent) res.setHeader('Connection', 'close');
  logger.info({ signal }, 'draining: /ready is 503, listener closed, finishing in-flight requests, waiting for keep-alive connections to end');
  const force = setTimeout(() => {
    if (inflight.size > 0) logger.warn({ inflight: inflight.size }, 'in-flight requests did not finish in time; closing their connections');
    else logger.info('closing keep-alive connections the client left idle');
    server.closeAllConnections();
  }, cfg.SHUTDOWN_TIMEOUT_MS);
  force.unref();
  // net.Server's close, not http.Server's: the latter also closes idle connections at once.
  await new Promise<void>((res) => net.Server.prototype.close.call(server, () => res()));
  clearTimeout(force);
  await mongo.close().catch((e: Error) => logger.error({ err: e }, 'closing MongoDB failed'));
  logger.info('stopped');
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
