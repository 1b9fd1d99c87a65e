// Worker process entry: config → startWorkers → drain on SIGTERM/SIGINT. The wiring is in start.ts.
//   tsx workers/main.ts [ocr,approval,disbursement]   (the argument overrides WORKER_ROLES)
// Run several processes per role to scale out; each claims jobs atomically, so they never share one.
import { loadConfigOrExit, workerSchema } from '../lib/config.js';
import { createLogger } from '../lib/logger.js';
import { initTracing, shutdownTracing } from '../lib/tracing.js';
import { startWorkers } from './start.js';

const cfg = loadConfigOrExit(workerSchema, 'worker', process.argv[2] ? { WORKER_ROLES: process.argv[2] } : {});
// Tracing first: every span and log line of the process is made after this (lib/tracing.ts).
initTracing({
  service: 'creditdesk-worker',
  instance: cfg.INSTANCE_ID,
  otlpEndpoint: cfg.OTEL_EXPORTER_OTLP_ENDPOINT,
  tracesFile: cfg.OTEL_TRACES_FILE,
});
const log = createLogger({ level: cfg.LOG_LEVEL, name: 'worker', instance: cfg.INSTANCE_ID });
process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled promise rejection'));
process.on('uncaughtException', (err) => {
  log.fatal({ err }, 'uncaught exception; exiting');
  process.exit(1);
});

const workers = await startWorkers(cfg, log).catch((e: Error) => {
  log.fatal({ err: e }, e.message);
  process.exit(1);
});
const shutdown = (signal: string) => {
  log.info({ signal }, 'stopping');
  void workers
    .stop()
    .then(shutdownTracing)
    .then(() => process.exit(0));
};
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
