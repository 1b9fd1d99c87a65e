// The shapes the queue stores and the contract job handlers and workers code against.
import type { Db, ObjectId } from 'mongodb';
import type { z } from 'zod';
import type { Logger } from '../logger.js';

/**
 * 'failed' is not a stored state: a failed attempt is recorded in errors[] and the event goes back
 * to 'pending' with attempts > 0 and a later runAt (queueStats counts those as `failed`).
 */
export type EventState = 'pending' | 'processing' | 'completed' | 'dead';

export interface EventError { attempt: number; at: Date; message: string; owner: string }

export interface EventDoc {
  _id: ObjectId; type: string; payload: unknown; state: EventState; priority: number; runAt: Date;
  attempts: number; maxAttempts: number; dedupeKey?: string;
  /** Owner token of the current (or last) claim: random per claim, every later write filters on it. */
  owner?: string; leaseUntil?: Date; errors: EventError[]; result?: unknown;
  /** How many times the event was taken over after its lease expired (its worker died or stalled). */
  recoveries: number; createdAt: Date; startedAt?: Date; completedAt?: Date; deadAt?: Date;
  /** Completed events are deleted by the TTL monitor after this time. */
  expireAt?: Date; requestId?: string;
}

export interface JobContext { eventId: string; attempt: number; signal: AbortSignal; log: Logger; requestId?: string }

export interface JobDefinition<P> {
  type: string;
  /** Invalid payloads are dead-lettered at once (PermanentError). */
  payload: z.ZodType<P>;
  handle(payload: P, ctx: JobContext): Promise<unknown>;
  maxAttempts?: number;
  leaseMs?: number;
}

export interface BackoffOptions { baseMs: number; factor: number; capMs: number; jitter?: number }

export interface WorkerOptions {
  db: Db;
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

export interface WorkerHandle { stop(deadlineMs?: number): Promise<void>; inFlight(): number; processed(): number }
