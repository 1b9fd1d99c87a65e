// Lock metrics of this process, for /metrics: how long acquire() waited (granted or not) and the
// fencing number of the last grant, both by key PREFIX (the part before the first ':', so
// `loan:LOAN-…` counts as `loan`): the label set is bounded by the code's lock names, not by data.
import { Gauge, Histogram, type Registry } from 'prom-client';

/** `loan:LOAN-01…` → `loan`; `reconciler` → `reconciler`. */
export const keyPrefix = (key: string): string => key.split(':', 1)[0] || 'other';

const waits = new Histogram({
  name: 'lock_acquire_wait_seconds',
  help: 'time acquire() took, from the first attempt to a grant or to giving up, by key prefix and outcome',
  labelNames: ['prefix', 'outcome'],
  buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [],
});
const fences = new Gauge({
  name: 'lock_last_fence',
  help: 'fencing number of the last lock this process was granted, by key prefix',
  labelNames: ['prefix'],
  registers: [],
});

/** Counts one acquire(): its wait, and the fence when it was granted. */
export function observeAcquire(key: string, waitedMs: number, fence: number | undefined): void {
  const prefix = keyPrefix(key);
  waits.observe({ prefix, outcome: fence === undefined ? 'unavailable' : 'acquired' }, waitedMs / 1000);
  if (fence !== undefined) fences.set({ prefix }, fence);
}

/** Exposes this process's lock metrics on `registry`. */
export function registerLockMetrics(registry: Registry): void {
  registry.registerMetric(waits);
  registry.registerMetric(fences);
}
