// `npm run bench:queue`: end-to-end throughput (insertMany → claim → no-op → complete) with 1, 2
// and 4 worker PROCESSES, publish-to-start latency with idle workers, and the same job count
// through Agenda v6 on the same mongod (separate databases). Starts its own mongod unless MONGO_URI.
// Env: BENCH_EVENTS (20000), BENCH_CONCURRENCY (64 per process), BENCH_LATENCY_SAMPLES (300),
// BENCH_PROCS ("1,2,4"), BENCH_AGENDA (1; 0 skips), BENCH_TIMEOUT_MS per run (120000).
import { setTimeout as sleep } from 'node:timers/promises';
import { ObjectId } from 'mongodb';
import { connectMongo } from '../../lib/db/mongo.js';
import { createLogger } from '../../lib/logger.js';
import { MIGRATIONS } from '../../lib/migrations/list.js';
import { runMigrations } from '../../lib/migrations/runner.js';
import { eventsCollection, publish, publishMany } from '../../lib/queue/index.js';
import { mongoForRun } from '../mongod/launch.js';
import { loadMongoBackend } from './queue-agenda-worker.js';
import { percentile, spawnReady, stopAll, waitCount } from './queue-procs.js';

const N = Number(process.env.BENCH_EVENTS ?? 20_000);
const C = String(process.env.BENCH_CONCURRENCY ?? 64);
const SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 300);
const PROCS = (process.env.BENCH_PROCS ?? '1,2,4').split(',').map(Number);
const TIMEOUT = Number(process.env.BENCH_TIMEOUT_MS ?? 120_000);
const log = createLogger({ level: 'warn', name: 'bench', instance: 'bench' });

const server = await mongoForRun('bench');
const uri = server.uri;
const mongo = await connectMongo(uri, 'admin', 'bench-queue');
const dbNames: string[] = [];
const freshDb = async (label: string, migrate: boolean) => {
  const name = `bench_${label}_${Date.now().toString(36)}`;
  dbNames.push(name);
  const db = mongo.client.db(name);
  if (migrate) await runMigrations(db, MIGRATIONS, { log, batchSize: 1000, pauseMs: 0 });
  return { name, db };
};

/** The run ends at the last completion the database recorded (the count is only polled). */
function finish(r: { done: number; ms: number }, last: Date | undefined, t0: number) {
  const ms = r.done >= N && last ? Math.max(1, last.getTime() - t0) : r.ms;
  return { rate: (r.done / ms) * 1000, done: r.done, ms };
}

async function oursThroughput(procs: number): Promise<{ rate: number; done: number; ms: number }> {
  const { name, db } = await freshDb(`q${procs}`, true);
  const workers = await Promise.all(
    Array.from({ length: procs }, () => spawnReady('scripts/bench/queue-worker.ts', { MONGO_URI: uri, MONGO_DB: name, CONCURRENCY: C })),
  );
  await sleep(300);
  const t0 = Date.now();
  for (let i = 0; i < N; i += 5000)
    await publishMany(
      db,
      'noop',
      Array.from({ length: Math.min(5000, N - i) }, (_, k) => ({ i: i + k })),
    );
  const r = await waitCount(() => eventsCollection(db).countDocuments({ state: 'completed' }), N, t0, TIMEOUT);
  await stopAll(workers);
  return finish(r, (await eventsCollection(db).find().sort({ completedAt: -1 }).limit(1).next())?.completedAt, t0);
}

async function oursLatency(): Promise<{ p50: number; p99: number; max: number }> {
  const { name, db } = await freshDb('lat', true);
  const workers = await Promise.all(
    [1, 2].map(() => spawnReady('scripts/bench/queue-worker.ts', { MONGO_URI: uri, MONGO_DB: name, CONCURRENCY: C })),
  );
  await sleep(500);
  for (let i = 0; i < SAMPLES; i++) {
    await publish(db, 'noop', { i });
    await sleep(15 + Math.random() * 10);
  }
  await waitCount(() => eventsCollection(db).countDocuments({ state: 'completed' }), SAMPLES, Date.now(), 30_000);
  await stopAll(workers);
  // startedAt and createdAt both come from the server's $$NOW.
  const docs = await eventsCollection(db)
    .find({}, { projection: { createdAt: 1, startedAt: 1 } })
    .toArray();
  const lat = docs
    .filter((d) => d.startedAt)
    .map((d) => d.startedAt!.getTime() - d.createdAt.getTime())
    .sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99), max: lat.at(-1) ?? NaN };
}

async function agendaThroughput(procs: number): Promise<{ rate: number; done: number; ms: number }> {
  const { name, db } = await freshDb(`agenda${procs}`, false);
  const workers = await Promise.all(
    Array.from({ length: procs }, () =>
      spawnReady('scripts/bench/queue-agenda-worker.ts', { MONGO_URI: uri, MONGO_DB: name, CONCURRENCY: C }),
    ),
  );
  const jobs = db.collection('agendaJobs');
  // A job document exactly as Agenda's own now() writes it, cloned with insertMany like ours.
  const { Agenda } = await import('agenda');
  const MongoBackend = await loadMongoBackend();
  const probe = new Agenda({ backend: new MongoBackend({ mongo: mongo.client.db(`${name}_probe`), collection: 'agendaJobs' }) });
  dbNames.push(`${name}_probe`);
  await probe.ready;
  await probe.now('noop', { i: -1 });
  const template = (await mongo.client.db(`${name}_probe`).collection('agendaJobs').findOne({}))!;
  await sleep(300);
  const t0 = Date.now();
  for (let i = 0; i < N; i += 5000) {
    const now = new Date();
    await jobs.insertMany(
      Array.from({ length: Math.min(5000, N - i) }, (_, k) => ({ ...template, _id: new ObjectId(), data: { i: i + k }, nextRunAt: now })),
      { ordered: false },
    );
  }
  const r = await waitCount(() => jobs.countDocuments({ lastFinishedAt: { $ne: null } }), N, t0, TIMEOUT);
  await stopAll(workers);
  return finish(r, (await jobs.find().sort({ lastFinishedAt: -1 }).limit(1).next())?.lastFinishedAt, t0);
}

const f = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : 'n/a');
try {
  console.log(`queue benchmark: ${N} no-op events, ${C} lanes per worker process, mongod ${uri}`);
  const rows: Array<{ procs: number; ours: number; oursNote: string; agenda: number | undefined; agendaNote: string }> = [];
  for (const p of PROCS) {
    const o = await oursThroughput(p);
    let a: { rate: number; done: number; ms: number } | undefined;
    let agendaNote = '';
    if (process.env.BENCH_AGENDA !== '0') {
      try {
        a = await agendaThroughput(p);
      } catch (e) {
        agendaNote = `skipped: ${(e as Error).message}`;
      }
    }
    rows.push({
      procs: p,
      ours: o.rate,
      oursNote: o.done < N ? `only ${o.done}/${N} in ${o.ms} ms` : `${o.ms} ms`,
      agenda: a?.rate,
      agendaNote: a ? (a.done < N ? `only ${a.done}/${N} in ${a.ms} ms` : `${a.ms} ms`) : agendaNote,
    });
    console.log(`  ${p} process(es): ours ${f(o.rate)}/s, agenda ${a ? f(a.rate) : 'n/a'}/s`);
  }
  const lat = await oursLatency();
  console.log('\n| worker processes | creditdesk queue (events/s) | Agenda v6 (jobs/s) | ratio |');
  console.log('|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.procs} | ${f(r.ours)} (${r.oursNote}) | ${r.agenda !== undefined ? `${f(r.agenda)} (${r.agendaNote})` : r.agendaNote} | ${r.agenda === undefined ? 'n/a' : r.agenda > 0 ? `${(r.ours / r.agenda).toFixed(1)}×` : '∞ (Agenda finished none)'} |`,
    );
  }
  console.log(
    `\npublish → start latency, 2 idle worker processes, ${SAMPLES} events one at a time (server clock): p50 ${lat.p50} ms, p99 ${lat.p99} ms, max ${lat.max} ms`,
  );
} finally {
  for (const n of dbNames)
    await mongo.client
      .db(n)
      .dropDatabase()
      .catch(() => {});
  await mongo.close();
  await server.stop();
}
