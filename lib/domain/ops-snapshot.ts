// What the live ops dashboard shows: queue statistics, paused types and applications by status.
import type { Db } from 'mongodb';
import { collections } from '../db/collections.js';
import { pausedTypes, queueStats, type QueueStats } from '../queue/index.js';

export interface OpsSnapshot { at: string; queue: QueueStats; paused: string[]; applications: Record<string, number> }

export async function opsSnapshot(db: Db): Promise<OpsSnapshot> {
  const [queue, paused, byStatus] = await Promise.all([
    queueStats(db),
    pausedTypes(db),
    // Covered by the {status, createdAt, _id} index.
    collections(db).applications.aggregate<{ _id: string; n: number }>([
      { $sort: { status: 1, createdAt: -1, _id: -1 } }, { $group: { _id: '$status', n: { $sum: 1 } } },
    ]).toArray(),
  ]);
  return { at: new Date().toISOString(), queue, paused, applications: Object.fromEntries(byStatus.map((r) => [r._id, r.n])) };
}
