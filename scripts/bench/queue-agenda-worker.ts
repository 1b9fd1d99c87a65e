// Benchmark worker process: Agenda v6 (MongoDB backend) with a no-op job, tuned for throughput
// (high concurrency, no lock limit, 1 s poll like ours). Prints "ready"; stops on SIGTERM.
// The MongoDB backend is the separate package @agendajs/mongo-backend; AGENDA_MONGO_BACKEND may
// point at its dist/index.js when it is not installed in this project.
import type { MongoBackend } from '@agendajs/mongo-backend';
import { Agenda } from 'agenda';
import { connectMongo } from '../../lib/db/mongo.js';

export async function loadMongoBackend(): Promise<typeof MongoBackend> {
  const spec = process.env.AGENDA_MONGO_BACKEND ?? '@agendajs/mongo-backend';
  const mod: { MongoBackend: typeof MongoBackend } = await import(spec);
  return mod.MongoBackend;
}

if (process.argv[1]?.endsWith('queue-agenda-worker.ts')) {
  const MongoBackend = await loadMongoBackend();
  const mongo = await connectMongo(process.env.MONGO_URI!, process.env.MONGO_DB!, `bench-agenda-${process.pid}`);
  const c = Number(process.env.CONCURRENCY ?? 32);
  const agenda = new Agenda({
    backend: new MongoBackend({ mongo: mongo.db, collection: 'agendaJobs' }),
    processEvery: 1000,
    maxConcurrency: c,
    defaultConcurrency: c,
    lockLimit: 0,
    defaultLockLimit: 0,
  });
  agenda.define('noop', async () => {});
  await agenda.start();
  process.stdout.write('ready\n');
  process.once(
    'SIGTERM',
    () =>
      void agenda
        .stop()
        .then(() => mongo.close())
        .then(() => process.exit(0)),
  );
}
