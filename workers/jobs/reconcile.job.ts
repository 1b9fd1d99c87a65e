// The reconciler duty of the disbursement role (workers/roles.ts says why there). Every process of
// that role runs this loop; exactly one holds the "reconciler" lease (lib/locks: fenced, renewed
// every lease/3) and runs reconcileOnce every RECONCILE_INTERVAL_MS while it holds it. The others
// try to take the lease every lease/2: when the holder dies (kill -9) its lease expires by the
// server clock and one of them takes it over, with a higher fence, within RECONCILE_LEASE_MS plus
// one try. A holder that cannot renew in time aborts its run (the run's signal) and its fenced
// writes are refused (checkFence). Each run is recorded in reconciliation_runs.
import { setTimeout as sleep } from 'node:timers/promises';
import { ObjectId } from 'mongodb';
import { reconcileOnce, type ReconcileSettings } from '../../lib/domain/pipeline/reconcile.js';
import { RECONCILER_LOCK } from '../../lib/domain/pipeline/reconcile-lease.js';
import { recordRun } from '../../lib/domain/pipeline/reconcile-runs.js';
import type { ReconcileAction } from '../../lib/domain/pipeline/reconcile-runs.js';
import { acquire, type Lease, release, renew } from '../../lib/locks/index.js';
import type { Logger } from '../../lib/logger.js';
import type { WorkerContext } from '../context.js';

export interface ReconcilerDuty {
  /** Runs completed by this process, and steps per action (for /metrics). */
  stats(): { runs: number; holding: boolean; actions: Record<ReconcileAction, number> };
  /** Stops the loop, aborts a run in progress and releases the lease (idempotent). */
  stop(): Promise<void>;
}

export function startReconciler(ctx: WorkerContext, log: Logger): ReconcilerDuty {
  const cfg = ctx.cfg;
  const settings: ReconcileSettings = {
    thresholds: cfg.RECONCILE_THRESHOLDS,
    maxRedrives: cfg.RECONCILE_MAX_REDRIVES,
    batch: cfg.RECONCILE_BATCH,
    retentionDays: cfg.RECONCILE_RUN_RETENTION_DAYS,
    loanLockTtlMs: cfg.WORKER_LOCK_TTL_MS,
  };
  const leaseMs = cfg.RECONCILE_LEASE_MS;
  const stopping = new AbortController();
  const actions: Record<string, number> = {};
  let runs = 0;
  let held: { lease: Lease; ac: AbortController; timer: NodeJS.Timeout } | undefined;

  const lose = (why: string) => {
    if (!held) return;
    clearInterval(held.timer);
    held.ac.abort(new Error(`reconciler lease lost: ${why}`));
    log.warn({ fence: held.lease.fence }, `reconciler lease lost: ${why}`);
    held = undefined;
  };

  /** Renews every lease/3; past the lease's end without a renewal, the run is aborted. */
  const keep = (lease: Lease) => {
    const ac = new AbortController();
    let deadline = Date.now() + leaseMs;
    const timer = setInterval(
      () => {
        const h = held;
        if (!h) return;
        renew(ctx.db, h.lease, leaseMs).then(
          (next) => {
            if (held !== h) return;
            if (!next) return lose('taken over or released');
            h.lease = next;
            deadline = Date.now() + leaseMs;
          },
          () => {
            if (Date.now() >= deadline) lose('could not renew before the lease ended');
          },
        );
      },
      Math.max(50, Math.floor(leaseMs / 3)),
    );
    held = { lease, ac, timer };
    log.info({ fence: lease.fence }, 'reconciler lease taken: this process runs the reconciler');
  };

  const runOnce = async () => {
    const h = held!;
    const runId = new ObjectId();
    const signal = AbortSignal.any([h.ac.signal, stopping.signal]);
    const run = await reconcileOnce({
      ctx,
      settings,
      gateway: ctx.gateway,
      lease: { ...h.lease, signal },
      owner: cfg.INSTANCE_ID,
      runId,
    });
    await recordRun(ctx.c.reconciliationRuns, run);
    runs++;
    for (const [a, n] of Object.entries(run.counts)) actions[a] = (actions[a] ?? 0) + n;
    const acted = run.counts.redriven + run.counts.finished + run.counts.escalated;
    if (acted > 0 || run.counts.error > 0)
      log.info({ runId: runId.toHexString(), counts: run.counts, stuck: run.stuck }, 'reconciliation run');
  };

  const loop = (async () => {
    let nextRunAt = 0;
    while (!stopping.signal.aborted) {
      try {
        if (!held) {
          const lease = await acquire(ctx.db, RECONCILER_LOCK, leaseMs, { owner: cfg.INSTANCE_ID });
          if (lease) {
            keep(lease);
            nextRunAt = 0;
          }
        }
        if (held && Date.now() >= nextRunAt) {
          nextRunAt = Date.now() + cfg.RECONCILE_INTERVAL_MS;
          await runOnce();
        }
      } catch (e) {
        if (!stopping.signal.aborted) log.error({ err: e }, 'reconciliation run failed; trying again at the next interval');
      }
      const wait = held ? Math.max(10, Math.min(nextRunAt - Date.now(), leaseMs / 3)) : leaseMs / 2;
      await sleep(wait, undefined, { signal: stopping.signal }).catch(() => {});
    }
  })();

  let stopped: Promise<void> | undefined;
  return {
    stats: () => ({
      runs,
      holding: !!held,
      actions: { waiting: 0, redriven: 0, finished: 0, escalated: 0, deferred: 0, error: 0, ...actions },
    }),
    stop: () =>
      (stopped ??= (async () => {
        stopping.abort(new Error('the worker is stopping'));
        await loop;
        const h = held;
        if (h) {
          clearInterval(h.timer);
          held = undefined;
          await release(ctx.db, h.lease).catch(() => false);
        }
      })()),
  };
}
