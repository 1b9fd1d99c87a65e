// Typed job errors: the failure policy reads them to decide retry versus dead-letter now.

/** Thrown by a handler: the queue gives up at once (reason `permanent_error`, onGiveUp runs), no retry. */
export class PermanentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentError';
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
