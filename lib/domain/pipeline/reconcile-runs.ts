// The reconciler's record of its runs (`reconciliation_runs`): when each ran, who ran it (instance
// and lease fence), how many applications were stuck per status and what it did to each. Written
// once per run by the lease holder; kept RECONCILE_RUN_RETENTION_DAYS (TTL on expiresAt, migration
// 014 — the TTL monitor only cleans up). Admins read the newest first (GET /api/admin/reconciliation).
import type { Collection, IndexDescription, ObjectId } from 'mongodb';

/** What the reconciler did with one stuck application. */
export const RECONCILE_ACTIONS = ['waiting', 'redriven', 'finished', 'escalated', 'deferred', 'error'] as const;
export type ReconcileAction = (typeof RECONCILE_ACTIONS)[number];

export interface ReconcileStep {
  applicationId: string;
  status: string;
  /** Seconds since the application last changed. */
  stuckForS: number;
  action: ReconcileAction;
  /** Why (the facts it found), in words. */
  reason: string;
  /** The event it published (redriven) or found live (waiting). */
  eventId?: string;
}

export interface ReconciliationRunDoc {
  _id: ObjectId;
  startedAt: Date;
  finishedAt: Date;
  /** The worker instance that held the lease, and the lease's fencing number. */
  owner: string;
  fence: number;
  /** Seconds per status this run used. */
  thresholds: Record<string, number>;
  /** Applications stuck per status when the run started. */
  stuck: Record<string, number>;
  /** Steps per action. */
  counts: Record<ReconcileAction, number>;
  /** The steps (the first MAX_STEPS of them). */
  steps: ReconcileStep[];
  /** The run stopped early (lease lost, worker stopping): the rest waits for the next run. */
  interrupted: boolean;
  expiresAt: Date;
}

/** Steps kept per run document (the counts cover all of them). */
export const MAX_STEPS = 500;

export const RECONCILIATION_RUN_INDEXES: IndexDescription[] = [
  { key: { startedAt: -1 }, name: 'startedAt_-1' },
  { key: { expiresAt: 1 }, name: 'expiresAt_ttl', expireAfterSeconds: 0 },
];

export async function recordRun(runs: Collection<ReconciliationRunDoc>, run: ReconciliationRunDoc): Promise<void> {
  await runs.insertOne(run);
}

/** The newest `limit` runs. */
export function lastRuns(runs: Collection<ReconciliationRunDoc>, limit: number): Promise<ReconciliationRunDoc[]> {
  return runs.find({}).sort({ startedAt: -1 }).limit(limit).toArray();
}
