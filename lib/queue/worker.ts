// A worker: `concurrency` lanes, each looping claim → run → settle. Idle lanes park until a
// change-stream or poll wake-up; a lane that found work wakes one more (fast ramp-up, no herd).
import { hostname } from 'node:os';
import { DEFAULT_BACKOFF } from './backoff.js';
import { claimBatch } from './claim.js';
import { Completer } from './completer.js';
import { PausedCache } from './controls.js';
import { releaseEvent, type Claimed } from './settle.js';
import { runEvent, type RunDeps } from './run-event.js';
import type { EventDoc, JobDefinition, WorkerHandle, WorkerOptions } from './types.js';
import { Parking, startWakeSources } from './wakeup.js';

export const DEFAULT_LEASE_MS = 30_000;
export const DEFAULT_POLL_MS = 1000;
export const DEFAULT_RETENTION_MS = 7 * 24 * 3600_000;
/** The most events one claim round takes (bounded by the idle lanes too). */
export const MAX_CLAIM_BATCH = 64;

export class WorkerStoppingError extends Error { override name = 'WorkerStoppingError'; }

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

function validate(o: WorkerOptions): Map<string, JobDefinition<unknown>> {
  if (!Number.isInteger(o.concurrency) || o.concurrency < 1) throw new TypeError(`startWorker: concurrency must be an integer ≥ 1, got ${o.concurrency}`);
  if (o.jobs.length === 0) throw new TypeError('startWorker: jobs must name at least one job definition');
  const jobs = new Map<string, JobDefinition<unknown>>();
  for (const j of o.jobs) {
    if (jobs.has(j.type)) throw new TypeError(`startWorker: job type "${j.type}" is defined twice`);
    jobs.set(j.type, j);
  }
  return jobs;
}

export function startWorker(o: WorkerOptions): WorkerHandle {
  const jobs = validate(o);
  const leaseMs = o.leaseMs ?? DEFAULT_LEASE_MS;
  const pollMs = o.pollMs ?? DEFAULT_POLL_MS;
  const label = o.owner ?? `${hostname()}-${process.pid}`;
  const log = o.log.child({ component: 'queue-worker', worker: label });
  const leaseFor = Object.fromEntries(o.jobs.filter((j) => j.leaseMs !== undefined).map((j) => [j.type, j.leaseMs!]));
  const deps: RunDeps = {
    db: o.db, log, label, leaseMs, backoff: o.backoff ?? DEFAULT_BACKOFF,
    completer: new Completer(o.db, o.retentionMs ?? DEFAULT_RETENTION_MS),
  };
  const parking = new Parking();
  const onError = (e: unknown) => log.warn({ err: e }, 'queue background error');
  const paused = new PausedCache(o.db, Math.min(500, pollMs), onError, () => parking.wake());
  const running = new Map<string, { claim: Claimed; ac: AbortController }>();
  let active = true;
  const buffered: EventDoc[] = [];
  let processed = 0;
  const wake = startWakeSources({ db: o.db, pollMs, onWake: () => parking.wake(), onError });
  const claimable = () => [...jobs.keys()].filter((t) => !paused.has(t));
  // One claim in flight per process (concurrent claims race for the same head-of-queue documents,
  // and every lost race is a server-side write conflict), but each claim takes a batch sized to
  // the idle lanes, so the round trips are paid per batch. Handlers run `concurrency` at once.
  const buffer: EventDoc[] = [];
  let fetching: Promise<number> | undefined;
  const claimNext = async (): Promise<EventDoc | null> => {
    for (;;) {
      const next = buffer.shift();
      if (next) return next;
      fetching ??= claimBatch(o.db, claimable(), leaseMs, Math.max(1, Math.min(MAX_CLAIM_BATCH, o.concurrency - running.size)), leaseFor)
        .then((evs) => { buffer.push(...evs); return evs.length; })
        .finally(() => { fetching = undefined; });
      if ((await fetching) === 0 && buffer.length === 0) return null;
    }
  };

  async function lane(): Promise<void> {
    while (active) {
      let ev;
      try {
        ev = await claimNext();
      } catch (e) {
        log.warn({ err: e }, 'claim failed; retrying in a second');
        await Promise.race([sleep(1000), parking.park()]);
        continue;
      }
      if (!ev) { await parking.park(); continue; }
      if (!active) { buffered.push(ev); break; } // claimed while stopping: released below
      if (parking.parked > 0) parking.wake();
      const id = String(ev._id);
      const ac = new AbortController();
      running.set(id, { claim: { _id: ev._id, owner: ev.owner! }, ac });
      try {
        const outcome = await runEvent(deps, ev, jobs.get(ev.type)!, ac);
        if (outcome !== 'refused') processed++;
      } catch (e) {
        log.error({ err: e, eventId: id }, 'could not settle event; its lease will expire and it will be retried');
      } finally {
        running.delete(id);
      }
    }
  }

  const lanes = paused.start().then(() => Promise.all(Array.from({ length: o.concurrency }, lane)));
  let stopping: Promise<void> | undefined;

  return {
    inFlight: () => running.size,
    processed: () => processed,
    stop(deadlineMs = 10_000) {
      stopping ??= (async () => {
        active = false;
        parking.close();
        paused.stop();
        await wake.close();
        await Promise.race([lanes, sleep(deadlineMs)]);
        const left = [...running.values()];
        for (const ev of [...buffer.splice(0), ...buffered.splice(0)]) left.push({ claim: { _id: ev._id, owner: ev.owner! }, ac: new AbortController() });
        for (const r of left) r.ac.abort(new WorkerStoppingError('worker stopping: deadline passed'));
        const released = await Promise.all(left.map((r) => releaseEvent(o.db, r.claim).catch(() => false)));
        log.info({ released: released.filter(Boolean).length, processed }, 'queue worker stopped');
      })();
      return stopping;
    },
  };
}
