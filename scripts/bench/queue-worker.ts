// Benchmark worker process: our queue with a no-op handler. Prints "ready" once started, and stops
// gracefully on SIGTERM. Env: MONGO_URI, MONGO_DB, CONCURRENCY; BENCH_MONITOR=1 counts the
// commands this process sends and the time spent waiting for their replies (driver command
// monitoring), printed as one JSON line on stderr when it stops (`commands {...}`), for
// scripts/bench/queue-profile.ts.
import { MongoClient } from 'mongodb';
import { z } from 'zod';
import { connectMongo, type Mongo, WRITE_CONCERN } from '../../lib/db/mongo.js';
import { createLogger } from '../../lib/logger.js';
import { startWorker } from '../../lib/queue/index.js';

const commands: Record<string, number> = {};
/** Milliseconds spent waiting for each command's reply, summed per command name. */
const durations: Record<string, number> = {};
/** connectMongo's client, with command monitoring on from the first command when BENCH_MONITOR=1. */
async function connect(): Promise<Mongo> {
  if (process.env.BENCH_MONITOR !== '1') return connectMongo(process.env.MONGO_URI!, process.env.MONGO_DB!, `bench-worker-${process.pid}`);
  const client = new MongoClient(process.env.MONGO_URI!, {
    appName: `bench-worker-${process.pid}`,
    maxPoolSize: 50,
    retryWrites: true,
    retryReads: true,
    writeConcern: WRITE_CONCERN,
    monitorCommands: true,
  });
  client.on('commandStarted', (e) => {
    commands[e.commandName] = (commands[e.commandName] ?? 0) + 1;
  });
  client.on('commandSucceeded', (e) => {
    durations[e.commandName] = (durations[e.commandName] ?? 0) + e.duration;
  });
  await client.connect();
  return { client, db: client.db(process.env.MONGO_DB!), close: () => client.close() };
}
const mongo = await connect();
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
      .then(() => {
        if (process.env.BENCH_MONITOR === '1')
          process.stderr.write(`commands ${JSON.stringify({ processed: worker.processed(), commands, durations })}\n`);
      })
      .then(() => mongo.close())
      .then(() => process.exit(0)),
);
