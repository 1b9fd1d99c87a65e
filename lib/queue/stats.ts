// Queue statistics from ONE aggregation: a covered scan of the `claim` index grouped by type+state.
import type { Db } from 'mongodb';
import { CLAIM_INDEX, CLAIM_INDEX_KEY, eventsCollection } from './collection.js';

export interface TypeStats {
  pending: number; processing: number; completed: number; failed: number; dead: number;
  oldestPendingAgeMs: number; recovered: number;
}
export interface QueueStats extends Omit<TypeStats, 'oldestPendingAgeMs'> { types: Record<string, TypeStats> }

const empty = (): TypeStats => ({ pending: 0, processing: 0, completed: 0, failed: 0, dead: 0, oldestPendingAgeMs: 0, recovered: 0 });

/**
 * `pending` counts every event waiting to run, `failed` the subset of those waiting for a retry
 * (attempts > 0). `recovered` sums takeovers of expired leases. Ages use the server clock.
 */
export async function queueStats(db: Db): Promise<QueueStats> {
  const rows = await eventsCollection(db).aggregate<{
    _id: { type: string; state: string }; n: number; retrying: number; recovered: number; oldestRunAt: Date | null; now: Date;
  }>([
    { $sort: CLAIM_INDEX_KEY },
    { $project: { _id: 0, state: 1, type: 1, runAt: 1, attempts: 1, recoveries: 1 } },
    {
      $group: {
        _id: { type: '$type', state: '$state' }, n: { $sum: 1 },
        retrying: { $sum: { $cond: [{ $gt: ['$attempts', 0] }, 1, 0] } },
        recovered: { $sum: '$recoveries' }, oldestRunAt: { $min: '$runAt' }, now: { $first: '$$NOW' },
      },
    },
  ], { hint: CLAIM_INDEX }).toArray();
  const total: QueueStats = { ...empty(), types: {} };
  delete (total as Partial<TypeStats>).oldestPendingAgeMs;
  for (const r of rows) {
    const t = (total.types[r._id.type] ??= empty());
    const state = r._id.state as 'pending' | 'processing' | 'completed' | 'dead';
    if (!(state in t)) continue;
    t[state] += r.n;
    total[state] += r.n;
    t.recovered += r.recovered;
    total.recovered += r.recovered;
    if (state === 'pending') {
      t.failed += r.retrying;
      total.failed += r.retrying;
      if (r.oldestRunAt) t.oldestPendingAgeMs = Math.max(0, r.now.getTime() - r.oldestRunAt.getTime());
    }
  }
  return total;
}
