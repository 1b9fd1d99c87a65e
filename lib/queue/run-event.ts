// Runs one claimed event: gives up at once when its attempts are exhausted (or a give-up is
// pending, or the payload is invalid); otherwise keeps its lease alive, calls the handler and writes
// the outcome (complete, retry later, or give up), every write checked against the owner token.
import type { Logger } from '../logger.js';
import { inEventSpan } from '../tracing.js';
import { backoffDelay } from './backoff.js';
import type { Completer } from './completer.js';
import { LeaseLostError, PermanentError, RescheduleError, errorMessage } from './errors.js';
import { giveUp, maxAttemptsOf, type GiveUpDeps } from './give-up.js';
import { countRun } from './metrics.js';
import { renewLease, rescheduleEvent, retryEvent, type Claimed } from './settle.js';
import type { EventDoc, JobDefinition } from './types.js';

export interface RunDeps extends GiveUpDeps {
  log: Logger;
  leaseMs: number;
  completer: Completer;
}

export type Outcome = 'completed' | 'retry' | 'dead' | 'refused';
/** A handler that succeeded: its completion write, still in flight (it resolves to 'completed' or 'refused'). */
export interface Completing {
  completing: Promise<Outcome>;
}

/** Renews every lease/3; aborts `ac` when the lease is lost or cannot be renewed before it ends. */
function keepLease(d: RunDeps, claim: Claimed, leaseMs: number, ac: AbortController): () => void {
  let deadline = Date.now() + leaseMs;
  const timer = setInterval(
    () => {
      renewLease(d.db, claim, leaseMs).then(
        (ok) => {
          if (ok) {
            deadline = Date.now() + leaseMs;
            return;
          }
          clearInterval(timer);
          ac.abort(new LeaseLostError(String(claim._id)));
        },
        (e: unknown) => {
          d.log.warn({ err: e, eventId: String(claim._id) }, 'lease renewal failed; will retry');
          if (Date.now() >= deadline) {
            clearInterval(timer);
            ac.abort(new LeaseLostError(String(claim._id)));
          }
        },
      );
    },
    Math.max(50, Math.floor(leaseMs / 3)),
  );
  return () => clearInterval(timer);
}

/**
 * Runs the event to its outcome. Every outcome but a success is written before it returns; a
 * success returns at once with its completion in flight (`Completing`), so the lane is free again.
 */
export function runEvent(d: RunDeps, ev: EventDoc, def: JobDefinition<unknown>, ac: AbortController): Promise<Outcome | Completing> {
  // In a span continuing the trace stored on the event (lib/tracing.ts), counted on /metrics (metrics.ts).
  return countRun(
    ev,
    ac,
    inEventSpan(ev, () => run(d, ev, def, ac), d.log),
  );
}

async function run(d: RunDeps, ev: EventDoc, def: JobDefinition<unknown>, ac: AbortController): Promise<Outcome | Completing> {
  const claim: Claimed = { _id: ev._id, owner: ev.owner! };
  const eventId = String(ev._id);
  const log = d.log.child({ eventId, type: ev.type, attempt: ev.attempts, ...(ev.requestId ? { requestId: ev.requestId } : {}) });
  const maxAttempts = maxAttemptsOf(def);
  const parsed = def.payload.safeParse(ev.payload);
  const payload = parsed.success ? parsed.data : undefined;

  // Give up without running the handler: a give-up whose hook threw last time runs again as it was;
  // attempts > maxAttempts means the earlier attempts ended without an outcome (the worker died or
  // lost its lease, the last one included); an invalid payload never becomes valid.
  if (ev.giveUp) {
    const { reason, lastError } = ev.giveUp;
    return giveUp(
      d,
      ev,
      def,
      claim,
      { reason, lastError, payload, message: `giving up again (${reason}): the previous give-up did not complete` },
      log,
    );
  }
  if (ev.attempts > maxAttempts) {
    const message = `gave up: attempt ${ev.attempts} exceeds maxAttempts ${maxAttempts}`;
    return giveUp(
      d,
      ev,
      def,
      claim,
      { reason: 'attempts_exhausted', lastError: ev.errors.at(-1)?.message ?? message, message, payload },
      log,
    );
  }
  if (!parsed.success) {
    const message = errorMessage(new PermanentError(`invalid payload: ${parsed.error.message}`));
    return giveUp(d, ev, def, claim, { reason: 'invalid_payload', lastError: message, message, payload: undefined }, log);
  }

  const stopRenewing = keepLease(d, claim, def.leaseMs ?? d.leaseMs, ac);
  let outcome: { ok: true; result: unknown } | { ok: false; error: unknown };
  try {
    const ctx = { eventId, attempt: ev.attempts, signal: ac.signal, log, ...(ev.requestId ? { requestId: ev.requestId } : {}) };
    outcome = { ok: true, result: await def.handle(parsed.data, ctx) };
  } catch (e) {
    outcome = { ok: false, error: e };
  } finally {
    stopRenewing();
  }
  if (ac.signal.aborted) {
    // Lease lost, or the worker is stopping and releases the event itself: write nothing.
    log.warn({ reason: errorMessage(ac.signal.reason) }, 'aborted while running; the outcome is not written');
    return 'refused';
  }
  if (outcome.ok) {
    // The handler is done: its lane may take the next event while the batched, majority-acknowledged
    // completion is written (the worker awaits it before it counts the event or stops).
    const completing = d.completer.complete(claim, outcome.result).then((ok): Outcome => {
      if (!ok) log.warn('completion refused: the lease was lost');
      return ok ? 'completed' : 'refused';
    });
    return { completing };
  }
  if (outcome.error instanceof RescheduleError) {
    // Not an attempt: the handler could not run yet (e.g. a vendor's breaker is open).
    const { at, reason } = outcome.error;
    const ok = await rescheduleEvent(d.db, claim, at, reason);
    if (!ok) log.warn('reschedule write refused: the lease was lost');
    else log.info({ runAt: at, reason }, 'event rescheduled');
    return ok ? 'retry' : 'refused';
  }
  const message = errorMessage(outcome.error);
  const permanent = outcome.error instanceof PermanentError;
  if (permanent || ev.attempts >= maxAttempts) {
    log.info({ err: outcome.error }, permanent ? 'permanent error: giving up' : 'last attempt failed: giving up');
    return giveUp(
      d,
      ev,
      def,
      claim,
      { reason: permanent ? 'permanent_error' : 'handler_error', lastError: message, message, payload },
      log,
    );
  }
  const retryInMs = backoffDelay(ev.attempts, d.backoff);
  const ok = await retryEvent(d.db, claim, { attempt: ev.attempts, message, label: d.label, retryInMs });
  if (!ok) {
    log.warn('failure write refused: the lease was lost');
    return 'refused';
  }
  log.info({ err: outcome.error, retryInMs }, 'event failed; will retry');
  return 'retry';
}
