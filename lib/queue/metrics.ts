// Queue metrics for a process's /metrics.
//  - Gauges: pending events, the oldest pending event's age, dead letters and recoveries per event
//    type. Every gauge reads ONE cached queueStats aggregate per process (at most one aggregation
//    per `maxAgeMs`, concurrent scrapes share the one in flight), never a query per scrape per type.
//    The role backlog gauges (the autoscaling signal) read one cached groupBacklog the same way.
//  - Counters: what THIS process did with the events it claimed (claims, completions, failures that
//    will be retried, dead letters, recoveries of expired leases, lease losses), per type, counted
//    by runEvent (run-event.ts) through countRun.
import type { Db } from 'mongodb';
import { Counter, Gauge, type Registry } from 'prom-client';
import { type Backlog, backlogLoad } from './backlog.js';
import { LeaseLostError } from './errors.js';
import { queueStats, type QueueStats } from './stats.js';
import type { EventDoc } from './types.js';

/** `load()`'s result reused for `maxAgeMs`; one call at a time (callers share it); a failure is not cached. */
export function cachedFor<T>(load: () => Promise<T>, maxAgeMs: number): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    const now = Date.now();
    if (!last || now - last.at >= maxAgeMs) {
      const value = load();
      last = { at: now, value };
      // A failed aggregation is not cached: the next scrape tries again.
      value.catch(() => {
        if (last?.value === value) last = undefined;
      });
    }
    return last.value;
  };
}

/** queueStats(db), reused for `maxAgeMs`; one aggregation at a time (callers share it). */
export function cachedQueueStats(db: Db, maxAgeMs: number): () => Promise<QueueStats> {
  return cachedFor(() => queueStats(db), maxAgeMs);
}

/** Gauges labelled by `label`, one series per key of the record `source` returns at each scrape. */
function recordGauge<T>(registry: Registry, label: string, source: () => Promise<Record<string, T>>) {
  return (name: string, help: string, value: (t: T) => number) =>
    new Gauge({
      name,
      help,
      labelNames: [label],
      registers: [registry],
      async collect() {
        const all = await source();
        this.reset();
        for (const [key, t] of Object.entries(all)) this.set({ [label]: key }, value(t));
      },
    });
}

/**
 * Registers queue_role_backlog (due + running events of the role's types: the autoscaling signal,
 * backlog.ts) and queue_role_oldest_due_age_seconds, labelled by role. A process exports the
 * figures of every role it is given (they are the queue's, not the process's): a Kubernetes HPA
 * reads them as an external metric per role (deploy/k8s).
 */
export function registerBacklogGauges(registry: Registry, backlog: () => Promise<Record<string, Backlog>>): void {
  const gauge = recordGauge(registry, 'role', backlog);
  gauge('queue_role_backlog', "events of the role's types that are due or running: what its processes are scaled on", backlogLoad);
  gauge('queue_role_oldest_due_age_seconds', "age of the role's oldest due pending event (server clock)", (b) => b.oldestDueAgeMs / 1000);
}

/** Registers queue_pending, queue_oldest_pending_age_seconds and queue_dead, labelled by type. */
export function registerQueueGauges(registry: Registry, stats: () => Promise<QueueStats>): void {
  const gauge = recordGauge(registry, 'type', async () => (await stats()).types);
  gauge('queue_pending', 'events waiting to run (retries waiting included), per type', (t) => t.pending);
  gauge(
    'queue_oldest_pending_age_seconds',
    'age of the oldest due pending event (server clock), per type',
    (t) => t.oldestPendingAgeMs / 1000,
  );
  gauge('queue_dead', 'dead letters (events the queue gave up on), per type', (t) => t.dead);
  gauge(
    'queue_recovered',
    'lease recoveries (events taken over from a dead or stalled worker) of the events still stored, per type',
    (t) => t.recovered,
  );
}

// The process's counters, one set per process (registered on each registry that exposes them).
const counter = (name: string, help: string) => new Counter({ name, help, labelNames: ['type'], registers: [] });
const counters = {
  claims: counter('queue_claims_total', 'events this process claimed and ran, per type'),
  completions: counter('queue_completions_total', 'events this process completed, per type'),
  failures: counter('queue_failures_total', 'handler failures this process scheduled for a retry, per type'),
  dead: counter('queue_dead_letters_total', 'events this process dead-lettered (gave up on), per type'),
  recoveries: counter(
    'queue_recoveries_total',
    "events this process took over from an expired lease (a dead or stalled worker's), per type",
  ),
  leaseLosses: counter('queue_lease_losses_total', 'runs whose outcome write was refused because the lease was lost, per type'),
};

/** Exposes this process's queue counters on `registry`. */
export function registerQueueCounters(registry: Registry): void {
  for (const c of Object.values(counters)) registry.registerMetric(c);
}

/** The claim records a taken-over lease as an error of the attempt before (claim.ts). */
const recovered = (ev: EventDoc) => {
  const last = ev.errors.at(-1);
  return last !== undefined && last.attempt === ev.attempts - 1 && last.message.startsWith('lease expired');
};

/**
 * Counts one run of a claimed event: the claim (and recovery) now, the outcome when it is known
 * (for a success, when its completion write settles). A refused write is a lease loss unless the
 * worker itself aborted the run to stop (it releases the event).
 */
export function countRun<R extends string | { completing: Promise<string> }>(
  ev: EventDoc,
  ac: AbortController,
  run: Promise<R>,
): Promise<R> {
  const type = { type: ev.type };
  counters.claims.inc(type);
  if (recovered(ev)) counters.recoveries.inc(type);
  const count = (outcome: string) => {
    if (outcome === 'completed') counters.completions.inc(type);
    else if (outcome === 'retry') counters.failures.inc(type);
    else if (outcome === 'dead') counters.dead.inc(type);
    else if (!ac.signal.aborted || ac.signal.reason instanceof LeaseLostError) counters.leaseLosses.inc(type);
  };
  return run.then((r) => {
    if (typeof r === 'string') count(r);
    else r.completing.then(count, () => {});
    return r;
  });
}
