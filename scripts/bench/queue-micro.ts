// `npx tsx scripts/bench/queue-micro.ts`: the queue's hot-path writes alone, variant by variant,
// side by side on one mongod in one run (no worker processes, no handlers): each variant claims
// BENCH_EVENTS (20000) pending events 64 at a time and completes each batch (majority, journaled),
// one round after another, with LANES (2) such loops at once. Shows the mongod cost per event of
// each claim/complete/index shape, which the end-to-end benchmark (queue.ts) mixes with everything
// else. Variants: see VARIANTS below.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type Collection, type Document, type IndexDescription, ObjectId } from 'mongodb';
import { connectMongo } from '../../lib/db/mongo.js';
import { mongoForRun } from '../mongod/launch.js';

const N = Number(process.env.BENCH_EVENTS ?? 20_000);
const LANES = Number(process.env.LANES ?? 2);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const BATCH = 64;

const CLAIM_KEY = { state: 1, type: 1, priority: -1, runAt: 1, leaseUntil: 1, attempts: 1, recoveries: 1 };
const SORT = { priority: -1, runAt: 1 } as const;
const filter: Document = {
  type: { $in: ['noop'] },
  $or: [
    { state: 'pending', $expr: { $lte: ['$runAt', '$$NOW'] } },
    { state: 'processing', $expr: { $lt: ['$leaseUntil', '$$NOW'] } },
  ],
};
const claimUpdate = (token: string): Document[] => [
  {
    $set: {
      recoveries: { $cond: [{ $eq: ['$state', 'processing'] }, { $add: ['$recoveries', 1] }, '$recoveries'] },
      state: 'processing',
      owner: { $literal: token },
      leaseUntil: { $add: ['$$NOW', 30_000] },
      attempts: { $add: ['$attempts', 1] },
      startedAt: '$$NOW',
    },
  },
];
const completeUpdate: Document[] = [
  { $set: { state: 'completed', result: { $literal: null }, completedAt: '$$NOW', expireAt: { $add: ['$$NOW', 7 * 86_400_000] } } },
  { $unset: ['leaseUntil'] },
];
const live = { $expr: { $gt: ['$leaseUntil', '$$NOW'] } };

type Ev = { _id: ObjectId; owner: string };
interface Variant {
  name: string;
  indexes: IndexDescription[];
  claim(c: Collection, token: string): Promise<Ev[]>;
  complete(c: Collection, evs: Ev[]): Promise<void>;
}

const baseIndexes = (ttl: IndexDescription, claimPartial?: Document): IndexDescription[] => [
  { key: CLAIM_KEY, name: 'claim', ...(claimPartial ? { partialFilterExpression: claimPartial } : {}) },
  { key: { dedupeKey: 1 }, name: 'dedupeKey_unique', unique: true, partialFilterExpression: { dedupeKey: { $type: 'string' } } },
  ttl,
  { key: { deadAt: -1, type: 1 }, name: 'dead_letters', partialFilterExpression: { state: 'dead' } },
  { key: { state: 1, type: 1, recoveries: 1 }, name: 'recovered', partialFilterExpression: { recoveries: { $gt: 0 } } },
];
const TTL_ALL: IndexDescription = { key: { expireAt: 1 }, name: 'ttl_expireAt', expireAfterSeconds: 0 };
const TTL_PARTIAL: IndexDescription = { ...TTL_ALL, partialFilterExpression: { expireAt: { $exists: true } } };

/** Today's claim: covered id read, updateMany, read-back by token. */
async function claim3(c: Collection, token: string): Promise<Ev[]> {
  const ids = (await c.find(filter, { sort: SORT, hint: CLAIM_KEY, limit: BATCH, projection: { _id: 1 } }).toArray()).map((d) => d._id);
  if (ids.length === 0) return [];
  await c.updateMany({ _id: { $in: ids }, ...filter }, claimUpdate(token), { writeConcern: { w: 1 } });
  return (await c.find({ _id: { $in: ids }, owner: token }).toArray()) as unknown as Ev[];
}
/** Two round trips: the candidate read returns whole documents; the update is guarded on attempts as read (all 0 here); the read-back only when it missed some. */
async function claim2(c: Collection, token: string): Promise<Ev[]> {
  const docs = await c.find(filter, { sort: SORT, hint: CLAIM_KEY, limit: BATCH }).toArray();
  if (docs.length === 0) return [];
  const ids = docs.map((d) => d._id);
  const r = await c.updateMany({ _id: { $in: ids }, ...filter, attempts: 0 }, claimUpdate(token), { writeConcern: { w: 1 } });
  if (r.modifiedCount === ids.length) return docs.map((d) => ({ _id: d._id as ObjectId, owner: token }));
  return (await c.find({ _id: { $in: ids }, owner: token }).toArray()) as unknown as Ev[];
}
/** Today's completion: one updateOne per event in one bulkWrite. */
async function completeBulk(c: Collection, evs: Ev[]): Promise<void> {
  await c.bulkWrite(
    evs.map((e) => ({ updateOne: { filter: { _id: e._id, owner: e.owner, state: 'processing', ...live }, update: completeUpdate } })),
    { ordered: false },
  );
}
/** One updateMany per owner token (a claimed batch shares its token). */
async function completeMany(c: Collection, evs: Ev[]): Promise<void> {
  const byOwner = new Map<string, ObjectId[]>();
  for (const e of evs) byOwner.set(e.owner, [...(byOwner.get(e.owner) ?? []), e._id]);
  await Promise.all(
    [...byOwner].map(([owner, ids]) => c.updateMany({ _id: { $in: ids }, owner, state: 'processing', ...live }, completeUpdate)),
  );
}
/** Delete on completion, a slim record inserted into a history collection (same majority wait: two writes). */
async function completeDelete(c: Collection, evs: Ev[]): Promise<void> {
  const ids = evs.map((e) => e._id);
  await c.deleteMany({ _id: { $in: ids }, state: 'processing', ...live });
  await c.db.collection(`${c.collectionName}_done`).insertMany(
    ids.map((_id) => ({ _id, type: 'noop', completedAt: new Date() })),
    { ordered: false },
  );
}

const VARIANTS: Variant[] = [
  {
    name: 'A today: 3-trip claim, bulk of updateOne completions, TTL index on every event',
    indexes: baseIndexes(TTL_ALL),
    claim: claim3,
    complete: completeBulk,
  },
  { name: 'B A + updateMany completion per token', indexes: baseIndexes(TTL_ALL), claim: claim3, complete: completeMany },
  { name: 'C B + 2-trip claim', indexes: baseIndexes(TTL_ALL), claim: claim2, complete: completeMany },
  { name: 'D C + TTL index partial (completed only)', indexes: baseIndexes(TTL_PARTIAL), claim: claim2, complete: completeMany },
  {
    name: 'E D + claim index partial on live states',
    indexes: [
      ...baseIndexes(TTL_PARTIAL, { state: { $in: ['pending', 'processing'] } }),
      { key: { state: 1, type: 1 }, name: 'done', partialFilterExpression: { state: 'completed' } },
    ],
    claim: claim2,
    complete: completeMany,
  },
  {
    name: 'F C + delete on completion, slim record in another collection',
    indexes: baseIndexes(TTL_PARTIAL),
    claim: claim2,
    complete: completeDelete,
  },
];

const server = await mongoForRun('bench-micro');
const mongo = await connectMongo(server.uri, `micro_${Date.now().toString(36)}`, 'bench-queue-micro');
const mongodPid = Number((await mongo.client.db('admin').command({ serverStatus: 1 })).pid);
/** mongod's CPU time so far (user + system, ms): less sensitive to other load on the machine than wall time. */
function mongodCpuMs(): number {
  const f = readFileSync(`/proc/${mongodPid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}
try {
  console.log(
    `queue hot path alone: ${N} events per variant, batches of ${BATCH}, ${LANES} loops at once, ${ROUNDS} rounds (variants interleaved)`,
  );
  const results = new Map<string, number[]>();
  const cpu = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, v] of VARIANTS.entries()) {
      const c = mongo.db.collection(`events_${i}_${round}`);
      try {
        await c.createIndexes(v.indexes);
      } catch (e) {
        console.log(`  ${v.name}: indexes refused: ${(e as Error).message}`);
        continue;
      }
      const now = new Date(Date.now() - 1000);
      for (let k = 0; k < N; k += 5000)
        await c.insertMany(
          Array.from({ length: Math.min(5000, N - k) }, (_, j) => ({
            _id: new ObjectId(),
            type: 'noop',
            payload: { i: k + j },
            state: 'pending',
            priority: 0,
            runAt: now,
            attempts: 0,
            errors: [],
            recoveries: 0,
            createdAt: now,
          })),
        );
      const t0 = performance.now();
      const cpu0 = mongodCpuMs();
      let done = 0;
      await Promise.all(
        Array.from({ length: LANES }, async () => {
          for (;;) {
            const evs = await v.claim(c, randomUUID());
            if (evs.length === 0) return;
            await v.complete(c, evs);
            done += evs.length;
          }
        }),
      );
      const rate = (done / (performance.now() - t0)) * 1000;
      results.set(v.name, [...(results.get(v.name) ?? []), rate]);
      cpu.set(v.name, [...(cpu.get(v.name) ?? []), ((mongodCpuMs() - cpu0) / done) * 1000]);
      await c.drop();
      await mongo.db
        .collection(`events_${i}_${round}_done`)
        .drop()
        .catch(() => {});
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log('  events/s per round | median | mongod CPU ms per 1,000 events per round | median | variant');
  for (const [name, rates] of results) {
    const c = cpu.get(name)!;
    console.log(
      `  ${rates.map((r) => r.toFixed(0).padStart(5)).join(' ')} | ${med(rates).toFixed(0).padStart(5)} | ${c.map((r) => r.toFixed(0).padStart(4)).join(' ')} | ${med(c).toFixed(0).padStart(4)} | ${name}`,
    );
  }
} finally {
  await mongo.db.dropDatabase().catch(() => {});
  await mongo.close();
  await server.stop();
}
