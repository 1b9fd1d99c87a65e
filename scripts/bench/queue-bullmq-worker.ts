// Benchmark worker process: BullMQ with a no-op processor, `CONCURRENCY` jobs at once, on the
// benchmark's own redis-server. Prints "ready" once connected; closes gracefully on SIGTERM.
// Env: REDIS_PORT, QUEUE_NAME, CONCURRENCY.
import { Worker } from 'bullmq';

const worker = new Worker(process.env.QUEUE_NAME!, async () => null, {
  connection: { host: '127.0.0.1', port: Number(process.env.REDIS_PORT) },
  concurrency: Number(process.env.CONCURRENCY ?? 32),
});
await worker.waitUntilReady();
process.stdout.write('ready\n');
process.once(
  'SIGTERM',
  () =>
    void worker
      .close()
      .then(() => process.exit(0))
      .catch(() => process.exit(1)),
);
