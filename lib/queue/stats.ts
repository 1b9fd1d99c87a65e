// Queue statistics, all served by indexes (`claim`, `recovered`), cheap at a million events
// (`npm run bench:queue-stats`):
//  - ONE covered aggregation over the active states (pending, processing, dead): counts, retries
//    waiting, recoveries and the oldest pending runAt per type and state;
//  - completed events, the bulk of the collection until the TTL removes them, are counted with
//    COUNT_SCANs per type (a $group over them materialises every key and was ~10× slower), and
//    their recoveries summed over the partial `recovered` index (only events with recoveries > 0).
import type { Db } from 'mongodb';
import { CLAIM_INDEX, RECOVERED_INDEX, eventsCollection } from './collection.js';

export interface TypeStats {
  pending: number;
  processing: number;
  completed: number;
  failed: number;
  dead: number;
  oldestPendingAgeMs: number;
  recovered: number;
}
export interface QueueStats extends Omit<TypeStats, 'oldestPendingAgeMs'> {
  types: Record<string, TypeStats>;
}

const empty = (): TypeStats => ({ pending: 0, processing: 0, completed: 0, failed: 0, dead: 0, oldestPendingAgeMs: 0, recovered: 0 });

const ACTIVE_STATES = ['pending', 'processing', 'dead'] as const;
type ActiveState = (typeof ACTIVE_STATES)[number];

/**
 * The covered aggregation over the live states, per type and state: counts, retries waiting,
 * recoveries, how many are due (runAt ≤ $$NOW: for pending events, ready to be claimed now) and
 * the earliest runAt. `types` narrows it to some event types (a worker role's: backlog.ts); the
 * `claim` index bounds both `state` and `type`, so the narrowed scan stays covered.
 */
export function activeStatsPipeline(states: readonly ActiveState[] = ACTIVE_STATES, types?: readonly string[]) {
  return [
    { $match: { state: { $in: [...states] }, ...(types ? { type: { $in: [...types] } } : {}) } },
    { $project: { _id: 0, state: 1, type: 1, runAt: 1, attempts: 1, recoveries: 1 } },
    {
      $group: {
        _id: { type: '$type', state: '$state' },
        n: { $sum: 1 },
        retrying: { $sum: { $cond: [{ $gt: ['$attempts', 0] }, 1, 0] } },
        recovered: { $sum: '$recoveries' },
        due: { $sum: { $cond: [{ $lte: ['$runAt', '$$NOW'] }, 1, 0] } },
        oldestRunAt: { $min: '$runAt' },
        now: { $first: '$$NOW' },
      },
    },
  ];
}
export const ACTIVE_STATS_PIPELINE = activeStatsPipeline();

/** One row of activeStatsPipeline: one type in one state. */
export interface ActiveStatsRow {
  _id: { type: string; state: ActiveState };
  n: number;
  retrying: number;
  recovered: number;
  due: number;
  oldestRunAt: Date | null;
  now: Date;
}

/** Runs activeStatsPipeline on the `claim` index (a covered scan). */
export function activeStats(db: Db, states?: readonly ActiveState[], types?: readonly string[]): Promise<ActiveStatsRow[]> {
  return eventsCollection(db).aggregate<ActiveStatsRow>(activeStatsPipeline(states, types), { hint: CLAIM_INDEX }).toArray();
}

export const COMPLETED_RECOVERIES_PIPELINE = [
  { $match: { state: 'completed', recoveries: { $gt: 0 } } },
  { $project: { _id: 0, type: 1, recoveries: 1 } },
  { $group: { _id: '$type', recovered: { $sum: '$recoveries' } } },
];

/**
 * `pending` counts every event waiting to run, `failed` the subset of those waiting for a retry
 * (attempts > 0). `recovered` sums takeovers of expired leases. Ages use the server clock.
 */
export async function queueStats(db: Db): Promise<QueueStats> {
  const events = eventsCollection(db);
  const [active, completedTypes, completedRecoveries] = await Promise.all([
    activeStats(db),
    events.distinct('type', { state: 'completed' }) as Promise<string[]>,
    events.aggregate<{ _id: string; recovered: number }>(COMPLETED_RECOVERIES_PIPELINE, { hint: RECOVERED_INDEX }).toArray(),
  ]);
  const completed = await Promise.all(
    completedTypes.map(async (type) => ({
      type,
      n: await events.countDocuments({ state: 'completed', type }, { hint: CLAIM_INDEX }),
    })),
  );

  const total: QueueStats = { pending: 0, processing: 0, completed: 0, failed: 0, dead: 0, recovered: 0, types: {} };
  const of = (type: string) => (total.types[type] ??= empty());
  for (const r of active) {
    const t = of(r._id.type);
    t[r._id.state] += r.n;
    total[r._id.state] += r.n;
    t.recovered += r.recovered;
    total.recovered += r.recovered;
    if (r._id.state === 'pending') {
      t.failed += r.retrying;
      total.failed += r.retrying;
      if (r.oldestRunAt) t.oldestPendingAgeMs = Math.max(0, r.now.getTime() - r.oldestRunAt.getTime());
    }
  }
  for (const c of completed) {
    of(c.type).completed += c.n;
    total.completed += c.n;
  }
  for (const r of completedRecoveries) {
    of(r._id).recovered += r.recovered;
    total.recovered += r.recovered;
  }
  return total;
}
