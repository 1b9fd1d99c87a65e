// Prometheus metrics of the reconciler for a worker's /metrics: stuck applications per status (one
// cached count per status on the status/updatedAt index, at most one round of counts per
// `maxAgeMs` whatever the scrape rate), and, in the process running the duty, whether it holds the
// lease, its runs and its steps per action (totals since the process started).
import { Gauge, type Registry } from 'prom-client';
import { countStuck } from '../applications/repository.js';
import type { Collections } from '../collections.js';
import { cutoffs } from './reconcile.js';
import type { ReconcileAction } from './reconcile-runs.js';

export interface DutyStats {
  runs: number;
  holding: boolean;
  actions: Record<ReconcileAction, number>;
}

/** Stuck counts per status for `thresholds` (seconds), reused for `maxAgeMs`; a failed count is not cached. */
export function cachedStuckCounts(
  c: Collections,
  thresholds: Record<string, number>,
  maxAgeMs: number,
): () => Promise<Record<string, number>> {
  let last: { at: number; counts: Promise<Record<string, number>> } | undefined;
  return () => {
    const now = Date.now();
    if (!last || now - last.at >= maxAgeMs) {
      const counts = countStuck(c, cutoffs(thresholds, now)) as Promise<Record<string, number>>;
      last = { at: now, counts };
      counts.catch(() => {
        if (last?.counts === counts) last = undefined;
      });
    }
    return last.counts;
  };
}

export function registerReconcileMetrics(registry: Registry, stuck: () => Promise<Record<string, number>>, duty?: () => DutyStats): void {
  new Gauge({
    name: 'reconcile_stuck_applications',
    help: 'applications in a status for longer than its RECONCILE_THRESHOLDS entry, per status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const counts = await stuck();
      this.reset();
      for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
    },
  });
  if (!duty) return;
  new Gauge({
    name: 'reconcile_lease_held',
    help: '1 while this process holds the reconciler lease',
    registers: [registry],
    collect() {
      this.set(duty().holding ? 1 : 0);
    },
  });
  new Gauge({
    name: 'reconcile_runs',
    help: 'reconciliation runs this process completed since it started',
    registers: [registry],
    collect() {
      this.set(duty().runs);
    },
  });
  new Gauge({
    name: 'reconcile_steps',
    help: 'stuck applications this process handled since it started, per action (waiting, redriven, finished, escalated, deferred, error)',
    labelNames: ['action'],
    registers: [registry],
    collect() {
      for (const [action, n] of Object.entries(duty().actions)) this.set({ action }, n);
    },
  });
}
