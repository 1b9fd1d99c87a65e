// `npm run bench:queue`: end-to-end throughput (insertMany → claim → no-op → complete) with 1 and
// 2 worker PROCESSES, publish-to-start latency with idle workers, and the same job count through
// two peers in the same run: Agenda v6 on the same mongod (separate databases) and BullMQ on
// redis-servers the benchmark starts itself (queue-redis.ts: one with `appendfsync always`, as
// durable as a majority-journaled write, one with Redis's defaults), stopped at the end.
// Starts its own mongod unless MONGO_URI. `prebench:queue` installs redis-server (bench set).
// Env: BENCH_EVENTS (20000), BENCH_CONCURRENCY (64 per process), BENCH_LATENCY_SAMPLES (300),
// BENCH_PROCS ("1,2"), BENCH_AGENDA (1; 0 skips), BENCH_BULLMQ (1; 0 skips),
// BENCH_TIMEOUT_MS per run (120000); BENCH_BASELINE_REV (e.g. HEAD) also runs the queue as it is
// in that git revision (`git archive` into a temp dir: its worker and migrations, this
// node_modules) in the same run, to measure a change side by side.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { ObjectId } from 'mongodb';
import { connectMongo } from '../../lib/db/mongo.js';
import { createLogger } from '../../lib/logger.js';
import { MIGRATIONS } from '../../lib/migrations/list.js';
import { runMigrations } from '../../lib/migrations/runner.js';
import { eventsCollection, publish, publishMany } from '../../lib/queue/index.js';
import { mongoForRun } from '../mongod/launch.js';
import { loadMongoBackend } from './queue-agenda-worker.js';
import { percentile, spawnReady, stopAll, waitCount } from './queue-procs.js';
import { type RedisMode, type RunningRedis, startRedis } from './queue-redis.js';

const N = Number(process.env.BENCH_EVENTS ?? 20_000);
const C = String(process.env.BENCH_CONCURRENCY ?? 64);
const SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 300);
const PROCS = (process.env.BENCH_PROCS ?? '1,2').split(',').map(Number);
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

/** The tree at BENCH_BASELINE_REV, extracted read-only from git (no change to the repository's state). */
async function baselineTree(rev: string): Promise<string> {
  if (!/^[\w./~^-]+$/.test(rev)) throw new Error(`BENCH_BASELINE_REV: not a plain revision: ${rev}`);
  const dir = await mkdtemp(join(tmpdir(), 'bench-queue-baseline-'));
  const r = spawnSync('sh', ['-c', `git archive --format=tar ${rev} | tar -x -C ${dir}`], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`git archive ${rev} failed`);
  await symlink(resolve('node_modules'), join(dir, 'node_modules'));
  return dir;
}

/** `tree`: another checkout of the project whose queue worker and migrations run instead of this one's. */
async function oursThroughput(procs: number, tree?: string): Promise<Rate> {
  const name = `bench_q${procs}${tree ? 'base' : ''}_${Date.now().toString(36)}`;
  dbNames.push(name);
  const db = mongo.client.db(name);
  if (tree) {
    const { MIGRATIONS: theirs } = (await import(join(tree, 'lib/migrations/list.ts'))) as { MIGRATIONS: typeof MIGRATIONS };
    const { runMigrations: run } = (await import(join(tree, 'lib/migrations/runner.ts'))) as { runMigrations: typeof runMigrations };
    await run(db, theirs, { log, batchSize: 1000, pauseMs: 0 });
  } else await runMigrations(db, MIGRATIONS, { log, batchSize: 1000, pauseMs: 0 });
  const script = tree ? join(tree, 'scripts/bench/queue-worker.ts') : 'scripts/bench/queue-worker.ts';
  const workers = await Promise.all(
    Array.from({ length: procs }, () => spawnReady(script, { MONGO_URI: uri, MONGO_DB: name, CONCURRENCY: C })),
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

async function agendaThroughput(procs: number): Promise<Rate> {
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

/** The same workload through BullMQ: addBulk in chunks of 5,000, completions counted by polling. */
async function bullmqThroughput(redis: RunningRedis, procs: number): Promise<Rate> {
  const name = `noop_${procs}_${Date.now().toString(36)}`;
  const queue = new Queue(name, { connection: { host: '127.0.0.1', port: redis.port } });
  try {
    await queue.waitUntilReady();
    const workers = await Promise.all(
      Array.from({ length: procs }, () =>
        spawnReady('scripts/bench/queue-bullmq-worker.ts', { REDIS_PORT: String(redis.port), QUEUE_NAME: name, CONCURRENCY: C }),
      ),
    );
    await sleep(300);
    const t0 = Date.now();
    for (let i = 0; i < N; i += 5000)
      await queue.addBulk(Array.from({ length: Math.min(5000, N - i) }, (_, k) => ({ name: 'noop', data: { i: i + k } })));
    const r = await waitCount(() => queue.getCompletedCount(), N, t0, TIMEOUT);
    await stopAll(workers);
    // The completed set is scored by finishedOn: the newest one ends the run.
    const [last] = await queue.getJobs(['completed'], 0, 0, false);
    return finish(r, last?.finishedOn ? new Date(last.finishedOn) : undefined, t0);
  } finally {
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
  }
}

type Rate = { rate: number; done: number; ms: number };
const note = (r: Rate) => (r.done < N ? `only ${r.done}/${N} in ${r.ms} ms` : `${r.ms} ms`);
const ratio = (a: number, b: number | undefined) => (b === undefined ? 'n/a' : b > 0 ? `${(a / b).toFixed(2)}×` : '∞');
const redises: RunningRedis[] = [];
let baseline: string | undefined;

const f = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : 'n/a');
try {
  console.log(`queue benchmark: ${N} no-op events, ${C} lanes per worker process, mongod ${uri}`);
  const modes: RedisMode[] = process.env.BENCH_BULLMQ === '0' ? [] : ['always', 'default'];
  const bull = new Map<RedisMode, RunningRedis>();
  for (const m of modes) {
    const r = await startRedis(m);
    redises.push(r);
    bull.set(m, r);
    console.log(
      `  redis-server ${r.version} on 127.0.0.1:${r.port} (${m === 'always' ? 'appendonly yes, appendfsync always' : 'defaults: no AOF'})`,
    );
  }
  const rev = process.env.BENCH_BASELINE_REV;
  if (rev) {
    baseline = await baselineTree(rev);
    console.log(
      `  baseline: the queue at ${rev} (${spawnSync('git', ['rev-parse', '--short', rev]).stdout.toString().trim()}), extracted to ${baseline}`,
    );
  }
  const rows: Array<{ procs: number; ours: Rate; base?: Rate; agenda: Rate | string; always?: Rate; dflt?: Rate }> = [];
  for (const p of PROCS) {
    const base = baseline ? await oursThroughput(p, baseline) : undefined;
    const ours = await oursThroughput(p);
    let agenda: Rate | string = 'skipped';
    if (process.env.BENCH_AGENDA !== '0') {
      try {
        agenda = await agendaThroughput(p);
      } catch (e) {
        agenda = `skipped: ${(e as Error).message}`;
      }
    }
    const always = bull.has('always') ? await bullmqThroughput(bull.get('always')!, p) : undefined;
    const dflt = bull.has('default') ? await bullmqThroughput(bull.get('default')!, p) : undefined;
    rows.push({ procs: p, ours, agenda, ...(base ? { base } : {}), ...(always ? { always } : {}), ...(dflt ? { dflt } : {}) });
    console.log(
      `  ${p} process(es): ${base ? `baseline ${f(base.rate)}/s, ` : ''}ours ${f(ours.rate)}/s, agenda ${typeof agenda === 'string' ? 'n/a' : f(agenda.rate)}/s, bullmq(always) ${always ? f(always.rate) : 'n/a'}/s, bullmq(default) ${dflt ? f(dflt.rate) : 'n/a'}/s`,
    );
  }
  const lat = await oursLatency();
  if (baseline) {
    console.log(`\n| worker processes | creditdesk at ${rev} (events/s) | creditdesk, this tree (events/s) | this tree / ${rev} |`);
    console.log('|---|---|---|---|');
    for (const r of rows)
      console.log(
        `| ${r.procs} | ${f(r.base!.rate)} (${note(r.base!)}) | ${f(r.ours.rate)} (${note(r.ours)}) | ${ratio(r.ours.rate, r.base!.rate)} |`,
      );
  }
  console.log(
    '\n| worker processes | creditdesk queue (events/s) | Agenda v6 (jobs/s) | BullMQ, AOF always (jobs/s) | BullMQ, default (jobs/s) | creditdesk / Agenda | creditdesk / BullMQ(always) | creditdesk / BullMQ(default) |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const cell = (x: Rate | string | undefined) => (x === undefined ? 'n/a' : typeof x === 'string' ? x : `${f(x.rate)} (${note(x)})`);
    const agendaRate = typeof r.agenda === 'string' ? undefined : r.agenda.rate;
    console.log(
      `| ${r.procs} | ${cell(r.ours)} | ${cell(r.agenda)} | ${cell(r.always)} | ${cell(r.dflt)} | ${ratio(r.ours.rate, agendaRate)} | ${ratio(r.ours.rate, r.always?.rate)} | ${ratio(r.ours.rate, r.dflt?.rate)} |`,
    );
  }
  console.log(
    `\npublish → start latency, 2 idle worker processes, ${SAMPLES} events one at a time (server clock): p50 ${lat.p50} ms, p99 ${lat.p99} ms, max ${lat.max} ms`,
  );
} finally {
  for (const r of redises) await r.stop().catch(() => {});
  if (baseline) await rm(baseline, { recursive: true, force: true });
  for (const n of dbNames)
    await mongo.client
      .db(n)
      .dropDatabase()
      .catch(() => {});
  await mongo.close();
  await server.stop();
}
