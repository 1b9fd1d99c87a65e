import type { ErrorRequestHandler, RequestHandler } from 'express';
import { isRetryableMongoError } from '../../lib/db/retryable-errors.js';
import { AppError, notFound } from '../../lib/errors.js';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Maps body-parser / multer errors (which carry status and type) to AppErrors. */
function fromFrameworkError(err: {
  status?: number;
  statusCode?: number;
  type?: string;
  code?: unknown;
  message?: string;
}): AppError | undefined {
  const status = err.status ?? err.statusCode;
  if (err.type === 'entity.parse.failed') return new AppError(400, 'malformed_json', 'the request body is not valid JSON');
  if (err.type === 'entity.too.large' || err.code === 'LIMIT_FILE_SIZE')
    return new AppError(413, 'payload_too_large', 'the request body is too large');
  // MongoDB errors carry numeric codes: only a string code can be multer's.
  if (typeof err.code === 'string' && err.code.startsWith('LIMIT_')) return new AppError(400, 'bad_upload', err.message ?? 'bad upload');
  if (status && status >= 400 && status < 500) return new AppError(status, 'bad_request', err.message ?? 'bad request');
  return undefined;
}

/**
 * During a replica-set election (or while MongoDB is unreachable) a request fails with one of the
 * driver's retryable errors: a 503 with Retry-After tells the client to try again, instead of a 500
 * that reads as a bug. The write may or may not have been applied when the outcome was unknown
 * (the client re-reads; PUTs carry the version, so a replay of an applied update is a 409).
 */
export function fromMongoError(err: unknown): AppError | undefined {
  if (!isRetryableMongoError(err)) return undefined;
  return new AppError(503, 'database_unavailable', 'the database is electing a primary or unreachable; retry shortly', {
    retryAfterSeconds: 1,
  });
}

export const notFoundHandler: RequestHandler = (req) => {
  throw notFound(`no route for ${req.method} ${req.path}`);
};

/** The one error handler: RFC 9457 problem details for every 4xx/5xx; no stack traces to clients. */
export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const e =
    err instanceof AppError
      ? err
      : (fromMongoError(err) ?? fromFrameworkError(err) ?? new AppError(500, 'internal', 'an unexpected error occurred'));
  // A 503 is a known, retryable condition (database electing, logins busy, paused), not a fault.
  // The driver's error behind a database_unavailable stays in the log: which failover case it was.
  if (e.status === 503) req.log.warn({ code: e.code, ...(err === e ? {} : { err }) }, `request refused: ${e.code} (503)`);
  else if (e.status >= 500) req.log.error({ err }, 'request failed');
  const retry = e.extra.retryAfterSeconds;
  if (typeof retry === 'number') res.setHeader('Retry-After', String(retry));
  if (res.headersSent) return void res.end();
  res
    .status(e.status)
    .type('application/problem+json')
    .json({
      type: `https://creditdesk.dev/problems/${e.code}`,
      title: TITLES[e.status] ?? 'Error',
      status: e.status,
      detail: e.message,
      instance: req.originalUrl,
      requestId: req.id,
      ...e.extra,
    });
};
