// Errors are thrown, never returned. The HTTP error handler turns an AppError into RFC 9457
// problem details; anything else is a 500 whose details stay in the log.
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export const badRequest = (detail: string, extra?: Record<string, unknown>) => new AppError(400, 'bad_request', detail, extra);
export const unauthorized = (detail = 'authentication required') => new AppError(401, 'unauthorized', detail);
export const forbidden = (detail = 'you do not have the role this action needs') => new AppError(403, 'forbidden', detail);
export const notFound = (detail = 'not found') => new AppError(404, 'not_found', detail);
export const conflict = (detail: string, extra?: Record<string, unknown>) => new AppError(409, 'conflict', detail, extra);
export const unprocessable = (detail: string, extra?: Record<string, unknown>) => new AppError(422, 'unprocessable', detail, extra);
export const tooManyRequests = (detail: string, retryAfterSeconds: number) =>
  new AppError(429, 'too_many_requests', detail, { retryAfterSeconds });
