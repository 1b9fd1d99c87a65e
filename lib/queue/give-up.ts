// Giving up on an event: the dead-letter write and the job's onGiveUp hook run in ONE MongoDB
// transaction, so the event is dead exactly when the hook's writes are committed.
import type { Db } from 'mongodb';
import { inTransaction } from '../db/transaction.js';
import type { Logger } from '../logger.js';
import { backoffDelay } from './backoff.js';
import { errorMessage } from './errors.js';
import { deadLetterEvent, retryEvent, type Claimed } from './settle.js';
import type { BackoffOptions, EventDoc, GiveUpReason, JobDefinition } from './types.js';

/** Attempts before giving up when a job definition sets no maxAttempts. */
export const DEFAULT_MAX_ATTEMPTS = 5;

/** The one place the attempt budget is decided: the job definition. */
export function maxAttemptsOf(def: JobDefinition<unknown>): number {
  return def.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
}

export interface GiveUpDeps {
  db: Db;
  label: string;
  backoff: BackoffOptions;
}

export interface GiveUpInput {
  reason: GiveUpReason;
  /** What the hook gets as info.lastError. */
  lastError: string;
  /** The errors[] entry of this attempt. */
  message: string;
  /** The parsed payload; undefined when the stored one does not match the schema. */
  payload: unknown;
}

export type GiveUpOutcome = 'dead' | 'retry' | 'refused';

/**
 * In one transaction: the dead-letter write (filtered on _id + owner token + processing + live
 * lease), then `def.onGiveUp` with that transaction's session. Outcomes:
 * - 'dead': both committed;
 * - 'refused': the lease was lost (the write matched nothing), the hook did not run; whoever
 *   claims the event next sees attempts > maxAttempts and gives up through this same function;
 * - 'retry': the hook (or the transaction) threw, so nothing of it was committed: the attempt is
 *   recorded as failed and the event is pending again after the backoff, marked `giveUp`, so its
 *   next claim runs this give-up again (with the same reason) instead of the handler.
 * Holding the event's write lock until commit, the transaction also keeps a racing claimer out:
 * its claim waits for the commit and then finds the event dead.
 */
export async function giveUp(
  d: GiveUpDeps,
  ev: EventDoc,
  def: JobDefinition<unknown>,
  claim: Claimed,
  g: GiveUpInput,
  log: Logger,
): Promise<GiveUpOutcome> {
  const maxAttempts = maxAttemptsOf(def);
  try {
    const dead = await inTransaction(d.db.client, async (session) => {
      const written = await deadLetterEvent(
        d.db,
        claim,
        { attempt: ev.attempts, message: g.message, label: d.label, reason: g.reason },
        session,
      );
      if (!written) return false;
      await def.onGiveUp?.(g.payload, {
        reason: g.reason,
        attempts: ev.attempts,
        maxAttempts,
        lastError: g.lastError,
        eventId: String(ev._id),
        type: ev.type,
        rawPayload: ev.payload,
        session,
        log,
        ...(ev.requestId ? { requestId: ev.requestId } : {}),
      });
      return true;
    });
    if (dead) log.warn({ reason: g.reason, lastError: g.lastError }, 'event dead-lettered');
    else log.warn({ reason: g.reason }, 'dead-letter write refused: the lease was lost; the next claim gives up');
    return dead ? 'dead' : 'refused';
  } catch (e) {
    const retryInMs = backoffDelay(ev.attempts, d.backoff);
    log.error(
      { err: e, reason: g.reason, retryInMs },
      'giving up failed (onGiveUp or its transaction threw): the event is not dead-lettered; the give-up is retried after the backoff',
    );
    const ok = await retryEvent(d.db, claim, {
      attempt: ev.attempts,
      message: `${g.message}; then giving up (${g.reason}) failed: ${errorMessage(e)}`.slice(0, 4000),
      label: d.label,
      retryInMs,
      giveUp: { reason: g.reason, lastError: g.lastError },
    });
    if (!ok) log.warn('retry write refused: the lease was lost; the next claim gives up');
    return ok ? 'retry' : 'refused';
  }
}
