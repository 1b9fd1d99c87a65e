// Queue gauges for a process's /metrics: pending events, the oldest pending event's age and dead
// letters per event type. Every gauge reads ONE cached queueStats aggregate per process (at most
// one aggregation per `maxAgeMs`, concurrent scrapes share the one in flight), never a query per
// scrape per type.
import type { Db } from 'mongodb';
import { Gauge, type Registry } from 'prom-client';
import { queueStats, type QueueStats } from './stats.js';

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
}
