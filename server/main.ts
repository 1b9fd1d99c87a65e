// API process entry: config → startApi → drain on SIGTERM/SIGINT. The wiring is in start.ts.
import { loadConfigOrExit, serverSchema } from '../lib/config.js';
import { createLogger } from '../lib/logger.js';
import { lowerThreadPoolPriority } from '../lib/process/thread-pool-priority.js';
import { initTracing, shutdownTracing } from '../lib/tracing.js';
import { startApi } from './start.js';

const cfg = loadConfigOrExit(serverSchema, 'api');
// Tracing first: every span and log line of the process is made after this (lib/tracing.ts).
initTracing({
  service: 'creditdesk-api',
  instance: cfg.INSTANCE_ID,
  otlpEndpoint: cfg.OTEL_EXPORTER_OTLP_ENDPOINT,
  tracesFile: cfg.OTEL_TRACES_FILE,
});
const log = createLogger({ level: cfg.LOG_LEVEL, name: 'api', instance: cfg.INSTANCE_ID });
process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled promise rejection'));
process.on('uncaughtException', (err) => {
  log.fatal({ err }, 'uncaught exception; exiting');
  process.exit(1);
});

// Password verifications run at a lower priority than the event loop (lib/process/thread-pool-priority.ts).
const reniced = await lowerThreadPoolPriority(cfg.THREADPOOL_NICE).catch((err: unknown) => {
  log.warn({ err }, 'could not lower the thread pool priority (THREADPOOL_NICE); running without');
  return 0;
});
if (reniced > 0) log.info({ threads: reniced, nice: cfg.THREADPOOL_NICE }, 'thread pool at lower priority than the event loop');
const api = await startApi(cfg, log).catch((e: Error) => {
  log.fatal({ err: e }, e.message);
  process.exit(1);
});
const shutdown = (signal: string) => {
  log.info({ signal }, 'stopping');
  void api
    .stop()
    .then(shutdownTracing)
    .then(() => process.exit(0));
};
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
