// `npx tsx scripts/bench/queue-profile.ts`: where a queue worker's time goes. Publishes
// BENCH_EVENTS (20000) no-op events into a fresh database on its own mongod, explains the claim's
// index read on that backlog, then runs BENCH_PROCS (1) worker processes (64 lanes) until every
// event is completed, with driver command monitoring (round trips per event) and, with
// BENCH_CPU_PROF_DIR, a V8 CPU profile of each worker (`--cpu-prof`). Prints the mongod
// serverStatus opcounters and `top` of the events collection accumulated during the run, the
// events collection's index sizes, and the commands each worker sent.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Document } from 'mongodb';
import { connectMongo } from '../../lib/db/mongo.js';
import { createLogger } from '../../lib/logger.js';
import { MIGRATIONS } from '../../lib/migrations/list.js';
import { runMigrations } from '../../lib/migrations/runner.js';
import { CLAIM_INDEX_KEY, CLAIM_SORT, claimFilter, eventsCollection, publishMany } from '../../lib/queue/index.js';
import { mongoForRun } from '../mongod/launch.js';
import { spawnReady, stopAll, waitCount } from './queue-procs.js';

const N = Number(process.env.BENCH_EVENTS ?? 20_000);
const PROCS = Number(process.env.BENCH_PROCS ?? 1);
const PROF = process.env.BENCH_CPU_PROF_DIR;
const log = createLogger({ level: 'warn', name: 'bench', instance: 'bench' });

const server = await mongoForRun('bench-profile');
const mongo = await connectMongo(server.uri, 'admin', 'bench-queue-profile');
const name = `profile_${Date.now().toString(36)}`;
const db = mongo.client.db(name);
const admin = mongo.client.db('admin');

/** mongod's CPU time so far (user + system, ms), from /proc. */
function mongodCpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

async function snapshot(): Promise<{ ops: Document; top: Document }> {
  const ss = await admin.command({ serverStatus: 1 });
  const cpuMs = mongodCpuMs(Number(ss.pid));
  const top = (await admin.command({ top: 1 })).totals[`${name}.events`] ?? {};
  return {
    ops: {
      mongodCpuMs: cpuMs,
      ...ss.opcounters,
      ...Object.fromEntries(Object.entries(ss.metrics.document).map(([k, v]) => [`doc.${k}`, v])),
    },
    top,
  };
}

function diff(a: Document, b: Document): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) if (typeof v === 'number' || typeof v === 'bigint') out[k] = Number(v) - Number(a[k] ?? 0);
  return out;
}

try {
  await runMigrations(db, MIGRATIONS, { log, batchSize: 1000, pauseMs: 0 });
  for (let i = 0; i < N; i += 5000)
    await publishMany(
      db,
      'noop',
      Array.from({ length: Math.min(5000, N - i) }, (_, k) => ({ i: i + k })),
    );
  const explain = await eventsCollection(db)
    .find(claimFilter(['noop']), { sort: CLAIM_SORT, hint: CLAIM_INDEX_KEY, limit: 64, projection: { _id: 1 } })
    .explain('executionStats');
  const es = explain.executionStats;
  console.log(
    `claim candidates read (limit 64, ${N} pending): ${es.nReturned} returned, ${es.totalKeysExamined} keys, ${es.totalDocsExamined} docs, ${es.executionTimeMillis} ms; plan ${JSON.stringify(explain.queryPlanner.winningPlan, (k, v) => (k === 'indexBounds' || k === 'keyPattern' ? undefined : v))}`,
  );
  const commands: string[] = [];
  const before = await snapshot();
  const t0 = Date.now();
  const workers = await Promise.all(
    Array.from({ length: PROCS }, () =>
      spawnReady(
        'scripts/bench/queue-worker.ts',
        { MONGO_URI: server.uri, MONGO_DB: name, CONCURRENCY: '64', BENCH_MONITOR: '1' },
        {
          nodeArgs: PROF ? ['--cpu-prof', '--cpu-prof-dir', PROF] : [],
          onStderr: (s) => {
            for (const line of s.split('\n')) if (line.startsWith('commands ')) commands.push(line.slice(9));
          },
        },
      ),
    ),
  );
  const r = await waitCount(() => eventsCollection(db).countDocuments({ state: 'completed' }), N, t0, 120_000);
  const after = await snapshot();
  await stopAll(workers);
  await sleep(200);
  console.log(`${r.done}/${N} completed in ${r.ms} ms (${((r.done / r.ms) * 1000).toFixed(0)} events/s incl. worker start-up)`);
  console.log(`serverStatus during the run: ${JSON.stringify(diff(before.ops, after.ops))}`);
  const top = diff(
    Object.fromEntries(
      Object.entries(before.top).flatMap(([k, v]) => [
        [`${k}.count`, (v as Document).count],
        [`${k}.ms`, (v as Document).time / 1000],
      ]),
    ),
    Object.fromEntries(
      Object.entries(after.top).flatMap(([k, v]) => [
        [`${k}.count`, (v as Document).count],
        [`${k}.ms`, (v as Document).time / 1000],
      ]),
    ),
  );
  console.log(`top ${name}.events during the run (count, ms of lock time): ${JSON.stringify(top)}`);
  const stats = await db.command({ collStats: 'events' });
  console.log(`events: ${stats.count} docs, ${stats.size} bytes, indexes ${JSON.stringify(stats.indexSizes)}`);
  for (const c of commands) {
    const {
      processed,
      commands: byName,
      durations,
    } = JSON.parse(c) as {
      processed: number;
      commands: Record<string, number>;
      durations: Record<string, number>;
    };
    const total = Object.values(byName).reduce((a, b) => a + b, 0);
    const each = Object.entries(byName).map(([k, n]) => `${k} ${n} × ${((durations[k] ?? 0) / n).toFixed(1)} ms`);
    console.log(
      `worker: ${processed} events, ${total} commands (${(total / Math.max(1, processed)).toFixed(3)} per event): ${each.join(', ')}`,
    );
  }
} finally {
  await db.dropDatabase().catch(() => {});
  await mongo.close();
  await server.stop();
}
