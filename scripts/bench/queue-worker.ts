// Benchmark worker process: our queue with a no-op handler. Prints "ready" once started, and stops
// gracefully on SIGTERM. Env: MONGO_URI, MONGO_DB, CONCURRENCY.
import { z } from 'zod';
import { connectMongo } from '../../lib/db/mongo.js';
import { createLogger } from '../../lib/logger.js';
import { startWorker } from '../../lib/queue/index.js';

const mongo = await connectMongo(process.env.MONGO_URI!, process.env.MONGO_DB!, `bench-worker-${process.pid}`);
const worker = startWorker({
  db: mongo.db,
  concurrency: Number(process.env.CONCURRENCY ?? 32),
  pollMs: 1000,
  log: createLogger({ level: 'warn', name: 'bench-worker', instance: String(process.pid) }),
  jobs: [{ type: 'noop', payload: z.object({ i: z.number() }), handle: async () => null }],
});
process.stdout.write('ready\n');
process.once(
  'SIGTERM',
  () =>
    void worker
      .stop(5000)
      .then(() => mongo.close())
      .then(() => process.exit(0)),
);
