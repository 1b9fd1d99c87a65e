// A worker: `concurrency` lanes, each looping claim → run → settle. Idle lanes park until a
// change-stream or poll wake-up; a lane that found work wakes one more (fast ramp-up, no herd).
// Claims are single or batched by claimMode (claim-rule.ts); stop() releases what it holds.
import { hostname } from 'node:os';
import { DEFAULT_BACKOFF } from './backoff.js';
import { claimBatch, claimOne } from './claim.js';
import { claimMode, NO_ROUND_YET, type ClaimRound } from './claim-rule.js';
import { Completer } from './completer.js';
import { PausedCache } from './controls.js';
import { releaseEvent, type Claimed } from './settle.js';
import { type Outcome, runEvent, type RunDeps } from './run-event.js';
import type { EventDoc, JobDefinition, WorkerHandle, WorkerOptions } from './types.js';
import { Parking, startWakeSources } from './wakeup.js';

export const DEFAULT_LEASE_MS = 30_000;
export const DEFAULT_POLL_MS = 1000;
export const DEFAULT_RETENTION_MS = 7 * 24 * 3600_000;
/** The most events one claim round takes (bounded by the idle lanes too). */
export const MAX_CLAIM_BATCH = 64;
/** Claim rounds in a row that found candidates but lost all of them to other workers, retried at once. */
export const LOST_ROUNDS_RETRIED = 3;
/** How long stop() waits, after its deadline, for a claim round still in flight, to release its events. */
export const STOP_CLAIM_WAIT_MS = 5_000;

export class WorkerStoppingError extends Error {
  override name = 'WorkerStoppingError';
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

function validate(o: WorkerOptions): Map<string, JobDefinition<unknown>> {
  if (!Number.isInteger(o.concurrency) || o.concurrency < 1)
    throw new TypeError(`startWorker: concurrency must be an integer ≥ 1, got ${o.concurrency}`);
  if (o.jobs.length === 0) throw new TypeError('startWorker: jobs must name at least one job definition');
  const jobs = new Map<string, JobDefinition<unknown>>();
  for (const j of o.jobs) {
    if (jobs.has(j.type)) throw new TypeError(`startWorker: job type "${j.type}" is defined twice`);
    if (j.maxAttempts !== undefined && !(Number.isInteger(j.maxAttempts) && j.maxAttempts >= 1)) {
      throw new TypeError(`startWorker: job type "${j.type}" has maxAttempts ${j.maxAttempts}; it must be an integer ≥ 1`);
    }
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
    db: o.db,
    log,
    label,
    leaseMs,
    backoff: o.backoff ?? DEFAULT_BACKOFF,
    completer: new Completer(o.db, o.retentionMs ?? DEFAULT_RETENTION_MS),
  };
  const parking = new Parking();
  const onError = (e: unknown) => log.warn({ err: e }, 'queue background error');
  const paused = new PausedCache(o.db, Math.min(500, pollMs), onError, () => parking.wake());
  const running = new Map<string, { claim: Claimed; ac: AbortController }>();
  let active = true;
  /** Events claimed once stopping began: stop() releases them. */
  const toRelease: EventDoc[] = [];
  let processed = 0;
  const wake = startWakeSources({ db: o.db, pollMs, onWake: () => parking.wake(), onError });
  const claimable = () => [...jobs.keys()].filter((t) => !paused.has(t));

  // One claim round in flight per process (concurrent claims race for the same head-of-queue
  // documents, and every lost race is a server-side write conflict). claimMode picks the round:
  // a single findOneAndUpdate when one lane is idle or the previous round found a short backlog,
  // else a batch sized to the idle lanes. Handlers run `concurrency` at once.
  let previous: ClaimRound = NO_ROUND_YET;
  const claimRound = async (): Promise<EventDoc[]> => {
    const types = claimable();
    const idle = Math.max(1, o.concurrency - running.size);
    if (claimMode(idle, previous) === 'single') {
      const ev = await claimOne(o.db, types, leaseMs, leaseFor);
      previous = { asked: 1, found: ev ? 1 : 0 };
      return ev ? [ev] : [];
    }
    const asked = Math.min(MAX_CLAIM_BATCH, idle);
    const r = await claimBatch(o.db, types, leaseMs, asked, leaseFor);
    previous = { asked, found: r.candidates };
    return r.events;
  };
  const buffer: EventDoc[] = [];
  let fetching: Promise<number> | undefined;
  let lostRounds = 0;
  const claimNext = async (): Promise<EventDoc | null> => {
    for (;;) {
      if (!active) return null;
      const next = buffer.shift();
      if (next) return next;
      // The round starts after the lanes that finish in this same turn of the event loop (fast
      // handlers) are idle too, so it is sized to them: otherwise a lane back first sees the other
      // lanes still busy and makes a one-event round.
      fetching ??= new Promise<void>((r) => setImmediate(r))
        .then(claimRound)
        .then((evs) => {
          (active ? buffer : toRelease).push(...evs);
          // Candidates seen, none claimed: another worker took them between our read and our
          // update, and the backlog goes on. Look again at once (−1) instead of parking until the
          // next wake-up, at most LOST_ROUNDS_RETRIED times in a row.
          const lost = evs.length === 0 && previous.found > 0 && lostRounds < LOST_ROUNDS_RETRIED;
          lostRounds = lost ? lostRounds + 1 : 0;
          return lost ? -1 : evs.length;
        })
        .finally(() => {
          fetching = undefined;
        });
      if ((await fetching) === 0 && buffer.length === 0) return null;
    }
  };

  // Completions in flight: a lane hands its event's completion to the batched Completer and takes
  // the next event at once (a lane is a handler slot; claim rounds are then sized to lanes that are
  // really free, not to lanes waiting for a journal write). stop() waits for these writes.
  const completing = new Set<Promise<unknown>>();
  const track = (id: string, p: Promise<Outcome>) => {
    const settled = p
      .then(
        (outcome) => {
          if (outcome !== 'refused') processed++;
        },
        (e: unknown) => log.error({ err: e, eventId: id }, 'could not settle event; its lease will expire and it will be retried'),
      )
      .finally(() => completing.delete(settled));
    completing.add(settled);
  };

  async function lane(): Promise<void> {
    while (active) {
      // Back-pressure: at most 2 × concurrency completions in flight (each still holds its lease).
      while (completing.size >= 2 * o.concurrency) await Promise.race(completing);
      let ev: EventDoc | null;
      try {
        ev = await claimNext();
      } catch (e) {
        log.warn({ err: e }, 'claim failed; retrying in a second');
        await Promise.race([sleep(1000), parking.park()]);
        continue;
      }
      if (!ev) {
        await parking.park();
        continue;
      }
      if (!active) {
        toRelease.push(ev);
        break;
      } // claimed while stopping: stop() releases it
      if (parking.parked > 0) parking.wake();
      const id = String(ev._id);
      const ac = new AbortController();
      running.set(id, { claim: { _id: ev._id, owner: ev.owner! }, ac });
      try {
        const outcome = await runEvent(deps, ev, jobs.get(ev.type)!, ac);
        if (typeof outcome === 'object') track(id, outcome.completing);
        else if (outcome !== 'refused') processed++;
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
        // Deadline passed (or every lane finished): abort what still runs; its outcome is not written.
        const left = [...running.values()].map((r) => r.claim);
        for (const r of running.values()) r.ac.abort(new WorkerStoppingError('worker stopping: deadline passed'));
        // A claim round still in flight would leave its events leased to a stopped worker until
        // the lease ends: wait for it (at most STOP_CLAIM_WAIT_MS), then release them with the rest.
        const inFlight = fetching;
        if (inFlight) {
          log.info('stopping with a claim round in flight: waiting for it to release what it claims');
          const returned = await Promise.race([
            inFlight.then(
              () => true,
              () => true,
            ),
            sleep(STOP_CLAIM_WAIT_MS).then(() => false),
          ]);
          if (!returned) {
            log.warn(
              { waitedMs: STOP_CLAIM_WAIT_MS },
              'the claim round did not return in time: its events are released if it returns before the client closes, else their leases expire',
            );
            void inFlight
              .then(
                () => Promise.all(toRelease.splice(0).map((ev) => releaseEvent(o.db, { _id: ev._id, owner: ev.owner! }))),
                () => {},
              )
              .catch(() => {});
          }
        }
        // Finished handlers whose completion is still being written: let it land (same bound).
        if (completing.size > 0) await Promise.race([Promise.allSettled([...completing]), sleep(STOP_CLAIM_WAIT_MS)]);
        for (const ev of [...buffer.splice(0), ...toRelease.splice(0)]) left.push({ _id: ev._id, owner: ev.owner! });
        const released = await Promise.all(left.map((c) => releaseEvent(o.db, c).catch(() => false)));
        log.info({ released: released.filter(Boolean).length, processed }, 'queue worker stopped');
      })();
      return stopping;
    },
  };
}
