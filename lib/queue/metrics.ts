// Queue metrics for a process's /metrics.
//  - Gauges: pending events, the oldest pending event's age, dead letters and recoveries per event
//    type. Every gauge reads ONE cached queueStats aggregate per process (at most one aggregation
//    per `maxAgeMs`, concurrent scrapes share the one in flight), never a query per scrape per type.
//  - Counters: what THIS process did with the events it claimed (claims, completions, failures that
//    will be retried, dead letters, recoveries of expired leases, lease losses), per type, counted
//    by runEvent (run-event.ts) through countRun.
import type { Db } from 'mongodb';
import { Counter, Gauge, type Registry } from 'prom-client';
import { LeaseLostError } from './errors.js';
import { queueStats, type QueueStats } from './stats.js';
import type { EventDoc } from './types.js';

/** queueStats(db), reused for `maxAgeMs`; one aggregation at a time (callers share it). */
export function cachedQueueStats(db: Db, maxAgeMs: number): () => Promise<QueueStats> {
  let last: { at: number; stats: Promise<QueueStats> } | undefined;
  return () => {
    const now = Date.now();
    if (!last || now - last.at >= maxAgeMs) {
      const stats = queueStats(db);
      last = { at: now, stats };
      // A failed aggregation is not cached: the next scrape tries again.
      stats.catch(() => {
        if (last?.stats === stats) last = undefined;
      });
    }
    return last.stats;
  };
}

/** Registers queue_pending, queue_oldest_pending_age_seconds and queue_dead, labelled by type. */
export function registerQueueGauges(registry: Registry, stats: () => Promise<QueueStats>): void {
  const gauge = (name: string, help: string, value: (t: QueueStats['types'][string]) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['type'],
      registers: [registry],
      async collect() {
        const s = await stats();
        this.reset();
        for (const [type, t] of Object.entries(s.types)) this.set({ type }, value(t));
      },
    });
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
