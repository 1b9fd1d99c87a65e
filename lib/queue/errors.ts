// Typed job errors: the failure policy reads them to decide retry versus dead-letter now.

/** Thrown by a handler: the queue gives up at once (reason `permanent_error`, onGiveUp runs), no retry. */
export class PermanentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentError';
  }
}

/**
 * Thrown by a handler that cannot run yet (a vendor's breaker is open, its rate is used up): the
 * event goes back to pending with runAt = `at` and the attempt is NOT counted (the claim's count is
 * undone), so waiting for a vendor never dead-letters an event. Not a failure: no error recorded.
 */
export class RescheduleError extends Error {
  constructor(
    readonly at: Date,
    readonly reason: string,
  ) {
    super(`rescheduled to ${at.toISOString()}: ${reason}`);
    this.name = 'RescheduleError';
  }
}

/** The worker's lease on an event was lost (expired and maybe taken over): its writes are refused. */
export class LeaseLostError extends Error {
  constructor(readonly eventId: string) {
    super(`lease on event ${eventId} was lost; the write was refused`);
    this.name = 'LeaseLostError';
  }
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`.slice(0, 2000);
  return String(e).slice(0, 2000);
}
