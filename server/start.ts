// Starts one API instance: the process context, the Express app, the listener, and the drain.
// server/main.ts calls it on signals; tests call it to run the real wiring in-process.
import { createServer, type Server, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { ServerConfig } from '../lib/config.js';
import { openContext } from '../lib/context.js';
import { createLogger, type Logger } from '../lib/logger.js';
import { ApplicationChanges } from '../lib/streams/application-changes.js';
import { createApp } from './app.js';
import type { ApiContext } from './context.js';
import { sessionCaches } from './middleware/session.js';

export interface RunningApi {
  url: string;
  ctx: ApiContext;
  /** Drains and closes (idempotent): see drain() below. */
  stop(): Promise<void>;
}

function listen(server: Server, cfg: ServerConfig): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      reject(e.code === 'EADDRINUSE' ? new Error(`port ${cfg.PORT} is already in use: set PORT to a free port`) : e);
    });
    server.listen(cfg.PORT, cfg.HOST, () => resolve(server.address() as AddressInfo));
  });
}

/**
 * The drain. The listener closes at once (new connections are refused, so nginx tries another
 * instance: nothing was sent yet, safe even for a POST). Open keep-alive connections are NOT cut:
 * closing an idle one races with nginx sending its next request on it, and a POST lost that way
 * is a 502 nginx may not replay. Instead every response from now on says `Connection: close`, and
 * idle connections end when nginx closes them (its upstream keepalive_timeout is below
 * SHUTDOWN_TIMEOUT_MS). At the deadline whatever is left is closed.
 */
function drainer(server: Server, ctx: ApiContext): () => Promise<void> {
  const inflight = new Set<ServerResponse>();
  server.on('request', (_req, res: ServerResponse) => {
    if (ctx.lifecycle.draining) res.setHeader('Connection', 'close');
    inflight.add(res);
    res.once('close', () => inflight.delete(res));
  });
  let stopping: Promise<void> | undefined;
  return () =>
    (stopping ??= (async () => {
      ctx.lifecycle.draining = true;
      for (const res of inflight) if (!res.headersSent) res.setHeader('Connection', 'close');
      ctx.log.info('draining: /ready is 503, listener closed, finishing in-flight requests, waiting for keep-alive connections to end');
      // Status streams (SSE) never finish on their own: end them now so their clients reconnect
      // to another instance, and close the instance's change stream.
      const streams = ctx.statusChanges.close().catch((e: unknown) => ctx.log.warn({ err: e }, 'closing the status change stream failed'));
      const force = setTimeout(() => {
        if (inflight.size > 0)
          ctx.log.warn({ inflight: inflight.size }, 'in-flight requests did not finish in time; closing their connections');
        else ctx.log.info('closing keep-alive connections the client left idle');
        server.closeAllConnections();
      }, ctx.cfg.SHUTDOWN_TIMEOUT_MS);
      force.unref();
      // net.Server's close, not http.Server's: the latter also closes idle connections at once.
      await new Promise<void>((res) => net.Server.prototype.close.call(server, () => res()));
      clearTimeout(force);
      await streams;
      await ctx.sessions.close();
      await ctx.close().catch((e: unknown) => ctx.log.error({ err: e }, 'closing MongoDB failed'));
      ctx.log.info('stopped');
    })());
}

export async function startApi(
  cfg: ServerConfig,
  log: Logger = createLogger({ level: cfg.LOG_LEVEL, name: 'api', instance: cfg.INSTANCE_ID }),
): Promise<RunningApi> {
  const base = await openContext(cfg, log, `creditdesk-api-${cfg.INSTANCE_ID}`);
  const sessions = sessionCaches(base, cfg);
  const ctx: ApiContext = {
    ...base,
    lifecycle: { draining: false },
    statusChanges: new ApplicationChanges(base.c, log),
    sessions,
    sessionsEnding: (sids) => sessions.store.sessionsEnding(sids),
  };
  const server = createServer();
  server.keepAliveTimeout = cfg.KEEP_ALIVE_TIMEOUT_MS; // above the proxy's idle timeout, or it sees resets
  server.headersTimeout = cfg.KEEP_ALIVE_TIMEOUT_MS + 5000;
  const stop = drainer(server, ctx); // its request listener runs before the app's, so it can still set headers
  server.on('request', createApp(ctx));
  try {
    const a = await listen(server, cfg);
    const url = `http://${a.address}:${a.port}`;
    log.info({ port: a.port, host: a.address }, `api listening on ${url}`);
    return { url, ctx, stop };
  } catch (e) {
    await ctx.statusChanges.close();
    await ctx.sessions.close();
    await ctx.close();
    throw e;
  }
}
