// The shapes the queue stores and the contract job handlers and workers code against.
import type { ClientSession, Db, ObjectId } from 'mongodb';
import type { z } from 'zod';
import type { Logger } from '../logger.js';

/**
 * 'failed' is not a stored state: a failed attempt is recorded in errors[] and the event goes back
 * to 'pending' with attempts > 0 and a later runAt (queueStats counts those as `failed`).
 */
export type EventState = 'pending' | 'processing' | 'completed' | 'dead';

export interface EventError {
  attempt: number;
  at: Date;
  message: string;
  owner: string;
}

/**
 * Why the queue gave up on an event (dead-lettered it):
 * - `handler_error`: the handler threw on the definition's last attempt;
 * - `permanent_error`: the handler threw a PermanentError (no retry, whatever the attempt);
 * - `invalid_payload`: the stored payload does not match the definition's schema;
 * - `attempts_exhausted`: the event was claimed with attempts > maxAttempts, i.e. its earlier
 *   attempts ended without an outcome (the worker died, or lost the lease, on the last attempt).
 */
export type GiveUpReason = 'handler_error' | 'permanent_error' | 'invalid_payload' | 'attempts_exhausted';

export interface EventDoc {
  _id: ObjectId;
  type: string;
  payload: unknown;
  state: EventState;
  priority: number;
  runAt: Date;
  /** Attempts counted at claim time. The budget is the job definition's maxAttempts, never stored. */
  attempts: number;
  dedupeKey?: string;
  /** Owner token of the current (or last) claim: random per claim, every later write filters on it. */
  owner?: string;
  leaseUntil?: Date;
  errors: EventError[];
  result?: unknown;
  /** Times a handler rescheduled it (RescheduleError: not attempts), and the last reason. */
  reschedules?: number;
  rescheduleReason?: string;
  /** How many times the event was taken over after its lease expired (its worker died or stalled). */
  recoveries: number;
  createdAt: Date;
  startedAt?: Date;
  completedAt?: Date;
  deadAt?: Date;
  /** Set with deadAt: why the queue gave up (removed when a dead letter is retried). */
  deadReason?: GiveUpReason;
  /**
   * A give-up whose onGiveUp hook threw: the event went back to pending (the hook's writes rolled
   * back) and its next claim runs the give-up again, with this reason and error, not the handler.
   */
  giveUp?: { reason: GiveUpReason; lastError: string };
  /** Completed events are deleted by the TTL monitor after this time. */
  expireAt?: Date;
  requestId?: string;
}

export interface JobContext {
  eventId: string;
  attempt: number;
  signal: AbortSignal;
  log: Logger;
  requestId?: string;
}

/** What onGiveUp learns about the event the queue is dead-lettering. */
export interface GiveUpInfo {
  reason: GiveUpReason;
  /** Attempts counted so far, this one included (> maxAttempts for `attempts_exhausted`). */
  attempts: number;
  maxAttempts: number;
  /** Message of the error that made the queue give up (for `attempts_exhausted`: the last recorded one). */
  lastError: string;
  eventId: string;
  type: string;
  /** The stored payload as it is; the parsed one is the hook's first argument when it is valid. */
  rawPayload: unknown;
  /**
   * The transaction of the dead-letter write: the hook's writes MUST use it, so they commit
   * together with the dead-lettering or not at all.
   */
  session: ClientSession;
  log: Logger;
  requestId?: string;
}

export interface JobDefinition<P> {
  type: string;
  /** Validates the stored payload before every attempt; an invalid one is dead-lettered at once. */
  payload: z.ZodType<P>;
  handle(payload: P, ctx: JobContext): Promise<unknown>;
  /**
   * Called once per dead-lettering, on every path that gives up (see GiveUpReason), inside ONE
   * transaction with the dead-letter write, which is filtered on the event's owner token and live
   * lease: both commit or neither does. If it throws, the event is not dead-lettered: the attempt
   * counts as failed and the give-up is retried after the backoff. `payload` is the parsed
   * payload, or undefined when the stored one does not match the schema (always so for
   * `invalid_payload`; `info.rawPayload` has it as stored). The function may run again when the
   * transaction is retried after a transient error: only writes made with `info.session` count.
   */
  onGiveUp?(payload: P | undefined, info: GiveUpInfo): Promise<void>;
  /** Attempts before the queue gives up (default DEFAULT_MAX_ATTEMPTS); decided here only. */
  maxAttempts?: number;
  leaseMs?: number;
}

export interface BackoffOptions {
  baseMs: number;
  factor: number;
  capMs: number;
  jitter?: number;
}

export interface WorkerOptions {
  db: Db;
  /**
   * Each element has its own payload type. `JobDefinition<unknown>[]` would accept every typed
   * definition too (methods are bivariant), but would type an inline literal's handler argument as
   * unknown; `any` keeps the handler argument of inline definitions (as in tests) inferred.
   */
  // biome-ignore lint/suspicious/noExplicitAny: heterogeneous payload types; see the comment above
  jobs: JobDefinition<any>[];
  /** Events handled at once by this worker (each runs claim → handle → complete in its own lane). */
  concurrency: number;
  /** Label recorded with errors and in logs; the claim token itself is random per claim. */
  owner?: string;
  leaseMs?: number;
  pollMs?: number;
  backoff?: BackoffOptions;
  log: Logger;
  /** How long completed events are kept (TTL on expireAt). Default 7 days. */
  retentionMs?: number;
}

export interface WorkerHandle {
  stop(deadlineMs?: number): Promise<void>;
  inFlight(): number;
  processed(): number;
}
