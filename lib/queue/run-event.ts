// Runs one claimed event: keeps its lease alive, validates the payload, calls the handler and
// writes the outcome (complete, retry later or dead-letter), every write checked against the token.
import type { Db } from 'mongodb';
import type { Logger } from '../logger.js';
import { backoffDelay } from './backoff.js';
import type { Completer } from './completer.js';
import { LeaseLostError, PermanentError, errorMessage } from './errors.js';
import { failEvent, renewLease, type Claimed } from './settle.js';
import type { BackoffOptions, EventDoc, JobDefinition } from './types.js';

export interface RunDeps { db: Db; log: Logger; label: string; leaseMs: number; backoff: BackoffOptions; completer: Completer }

export type Outcome = 'completed' | 'retry' | 'dead' | 'refused';

/** Renews every lease/3; aborts `ac` when the lease is lost or cannot be renewed before it ends. */
function keepLease(d: RunDeps, claim: Claimed, leaseMs: number, ac: AbortController): () => void {
  let deadline = Date.now() + leaseMs;
  const timer = setInterval(() => {
    renewLease(d.db, claim, leaseMs).then((ok) => {
      if (ok) { deadline = Date.now() + leaseMs; return; }
      clearInterval(timer);
      ac.abort(new LeaseLostError(String(claim._id)));
    }, (e: unknown) => {
      d.log.warn({ err: e, eventId: String(claim._id) }, 'lease renewal failed; will retry');
      if (Date.now() >= deadline) { clearInterval(timer); ac.abort(new LeaseLostError(String(claim._id))); }
    });
  }, Math.max(50, Math.floor(leaseMs / 3)));
  return () => clearInterval(timer);
}

export async function runEvent(d: RunDeps, ev: EventDoc, def: JobDefinition<unknown>, ac: AbortController): Promise<Outcome> {
  const claim: Claimed = { _id: ev._id, owner: ev.owner! };
  const eventId = String(ev._id);
  const log = d.log.child({ eventId, type: ev.type, attempt: ev.attempts, ...(ev.requestId ? { requestId: ev.requestId } : {}) });
  // A job definition's maxAttempts takes precedence over the value stored at publish.
  const maxAttempts = def.maxAttempts ?? ev.maxAttempts;
  if (ev.attempts > maxAttempts) {
    // Its earlier attempts all ended with the lease expiring (the worker died): give up now.
    const ok = await failEvent(d.db, claim, { attempt: ev.attempts, message: `gave up: attempt ${ev.attempts} exceeds maxAttempts ${maxAttempts}`, label: d.label, dead: true, retryInMs: 0 });
    return ok ? 'dead' : 'refused';
  }
  const leaseMs = def.leaseMs ?? d.leaseMs;
  const stopRenewing = keepLease(d, claim, leaseMs, ac);
  let outcome: { ok: true; result: unknown } | { ok: false; error: unknown };
  try {
    const parsed = def.payload.safeParse(ev.payload);
    if (!parsed.success) throw new PermanentError(`invalid payload: ${parsed.error.message}`);
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
    const ok = await d.completer.complete(claim, outcome.result);
    if (!ok) log.warn('completion refused: the lease was lost');
    return ok ? 'completed' : 'refused';
  }
  const dead = outcome.error instanceof PermanentError || ev.attempts >= maxAttempts;
  const retryInMs = dead ? 0 : backoffDelay(ev.attempts, d.backoff);
  const ok = await failEvent(d.db, claim, { attempt: ev.attempts, message: errorMessage(outcome.error), label: d.label, dead, retryInMs });
  if (!ok) { log.warn('failure write refused: the lease was lost'); return 'refused'; }
  log.info({ err: outcome.error, dead, retryInMs }, dead ? 'event dead-lettered' : 'event failed; will retry');
  return dead ? 'dead' : 'retry';
}
