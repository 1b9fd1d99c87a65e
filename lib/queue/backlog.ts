// The backlog of a group of event types (a worker role's): what the autoscaler sizes the role's
// processes from (scripts/stack/autoscaler.ts) and what /metrics exports for a Kubernetes HPA
// (queue_role_backlog, metrics.ts). ONE covered aggregation on the `claim` index for every group
// at once (stats.ts's activeStatsPipeline narrowed to pending + processing and to the groups'
// types), so a poll every second or two costs one index scan of the live events, never a FETCH.
//
// The load of a group is `due + running`: pending events whose runAt has come (claimable now) plus
// the events being handled. Running events count because a burst of slow handlers is claimed in a
// moment and then keeps every lane busy: counting only the waiting events would retire processes
// that are still working. Pending events not yet due (retries waiting out their backoff) are not
// load yet. backlogFilter() is the same set as a find filter, for KEDA's MongoDB scaler.
import type { Db, Filter } from 'mongodb';
import { activeStats } from './stats.js';
import type { EventDoc } from './types.js';

export interface Backlog {
  /** Pending events whose runAt has come: claimable now. */
  due: number;
  /** Events claimed and being handled (a lease that expired unnoticed included). */
  running: number;
  /** Age of the oldest due pending event by the server clock; 0 when none is due. */
  oldestDueAgeMs: number;
}

export const EMPTY_BACKLOG: Backlog = { due: 0, running: 0, oldestDueAgeMs: 0 };

/** The scaling signal: due + running events. */
export const backlogLoad = (b: Backlog): number => b.due + b.running;

/** The backlog of each group of event types (e.g. role → its job types), from one aggregation. */
export async function groupBacklog<G extends string>(db: Db, groups: Readonly<Record<G, readonly string[]>>): Promise<Record<G, Backlog>> {
  const names = Object.keys(groups) as G[];
  const groupOf = new Map<string, G[]>();
  for (const g of names) for (const type of groups[g]) groupOf.set(type, [...(groupOf.get(type) ?? []), g]);
  const rows = await activeStats(db, ['pending', 'processing'], [...groupOf.keys()]);
  const out = Object.fromEntries(names.map((g) => [g, { ...EMPTY_BACKLOG }])) as Record<G, Backlog>;
  for (const r of rows) {
    for (const g of groupOf.get(r._id.type) ?? []) {
      const b = out[g];
      if (r._id.state === 'processing') b.running += r.n;
      else if (r.due > 0) {
        b.due += r.due;
        // The earliest runAt of the type's pending events is a due one when any is due.
        if (r.oldestRunAt) b.oldestDueAgeMs = Math.max(b.oldestDueAgeMs, r.now.getTime() - r.oldestRunAt.getTime());
      }
    }
  }
  return out;
}

/**
 * The backlog's events as ONE find filter (due pending + processing: a processing event was due
 * when it was claimed, so `runAt ≤ $$NOW` holds for both): `countDocuments(backlogFilter(types))`
 * equals `backlogLoad`. This is the query deploy/k8s gives KEDA's MongoDB scaler; the `claim`
 * index bounds state and type, the `$$NOW` comparison is checked on the fetched candidates.
 */
export function backlogFilter(types: readonly string[]): Filter<EventDoc> {
  return { state: { $in: ['pending', 'processing'] }, type: { $in: [...types] }, $expr: { $lte: ['$runAt', '$$NOW'] } };
}
