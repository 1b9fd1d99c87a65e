// `npm run bench:queue-stats`: GET /api/admin/queue-stats's aggregation (queueStats) at a million
// events, against the obvious alternative (one countDocuments per type × state) in the same run.
// Starts its own mongod unless MONGO_URI is set. Prints its figures; asserts nothing.
import { ObjectId } from 'mongodb';
import { connectMongo } from '../../lib/db/mongo.js';
import { ensureQueueIndexes, eventsCollection, queueStats, type EventDoc } from '../../lib/queue/index.js';
import { mongoForRun } from '../mongod/launch.js';

const N = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const RUNS = 7;
const TYPES = ['ocr.requested', 'approval.requested', 'disbursement.requested', 'notify.email', 'report.daily'];
const STATES = ['completed', 'completed', 'completed', 'completed', 'completed', 'completed', 'pending', 'processing', 'dead'] as const;

const server = await mongoForRun('bench-stats');
const mongo = await connectMongo(server.uri, `bench_stats_${Date.now().toString(36)}`, 'bench-queue-stats');
const db = mongo.db;
try {
  await ensureQueueIndexes(db);
  const events = eventsCollection(db);
  const t0 = Date.now();
  const now = Date.now();
  for (let done = 0; done < N; done += 10_000) {
    const batch: EventDoc[] = [];
    for (let i = 0; i < Math.min(10_000, N - done); i++) {
      const state = STATES[(done + i) % STATES.length]!;
      batch.push({
        _id: new ObjectId(),
        type: TYPES[(done + i) % TYPES.length]!,
        payload: { n: done + i },
        state,
        priority: 0,
        runAt: new Date(now - ((done + i) % 86_400_000)),
        attempts: state === 'pending' ? (i % 3 === 0 ? 1 : 0) : 1,
        errors: [],
        recoveries: i % 50 === 0 ? 1 : 0,
        createdAt: new Date(now),
        ...(state === 'processing' ? { owner: 'bench', leaseUntil: new Date(now + 3_600_000) } : {}),
      });
    }
    await events.insertMany(batch, { ordered: false, writeConcern: { w: 1 } });
  }
  console.log(`inserted ${N.toLocaleString()} events in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const time = async (fn: () => Promise<unknown>) => {
    const ms: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const s = performance.now();
      await fn();
      ms.push(performance.now() - s);
    }
    ms.sort((a, b) => a - b);
    return { median: ms[Math.floor(RUNS / 2)]!, min: ms[0]!, max: ms[RUNS - 1]! };
  };
  const ours = await time(() => queueStats(db));
  const naive = await time(() =>
    Promise.all(
      TYPES.flatMap((type) =>
        (['pending', 'processing', 'completed', 'dead'] as const).map((state) => events.countDocuments({ type, state })),
      ),
    ),
  );
  const s = await queueStats(db);
  console.log(
    `check: pending ${s.pending}, processing ${s.processing}, completed ${s.completed}, dead ${s.dead}, failed ${s.failed}, recovered ${s.recovered}`,
  );
  console.log(`\n| query at ${N.toLocaleString()} events | median | min | max |\n|---|---|---|---|`);
  for (const [name, r] of [
    ['queueStats (covered aggregation of active states + count scans)', ours],
    ['20 × countDocuments(type, state) (counts only: no ages, retries or recoveries)', naive],
  ] as const) {
    console.log(`| ${name} | ${r.median.toFixed(0)} ms | ${r.min.toFixed(0)} ms | ${r.max.toFixed(0)} ms |`);
  }
  console.log(`\nratio (countDocuments / queueStats, median): ${(naive.median / ours.median).toFixed(2)}×`);
} finally {
  await db.dropDatabase().catch(() => {});
  await mongo.close();
  await server.stop();
}
