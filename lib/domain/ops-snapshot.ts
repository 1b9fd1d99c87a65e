// What the live ops dashboard shows: queue statistics, paused types and applications by status.
import { pausedTypes, queueStats, type QueueStats } from '../queue/index.js';
import { countByStatus } from './applications/repository.js';
import type { DomainContext } from './context.js';

export interface OpsSnapshot {
  at: string;
  queue: QueueStats;
  paused: string[];
  applications: Record<string, number>;
}

export async function opsSnapshot(ctx: Pick<DomainContext, 'db' | 'c'>): Promise<OpsSnapshot> {
  const [queue, paused, applications] = await Promise.all([queueStats(ctx.db), pausedTypes(ctx.db), countByStatus(ctx.c)]);
  return { at: new Date().toISOString(), queue, paused, applications };
}
