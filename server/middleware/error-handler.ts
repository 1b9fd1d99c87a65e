import type { ErrorRequestHandler, RequestHandler } from 'express';
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
  code?: string;
  message?: string;
}): AppError | undefined {
  const status = err.status ?? err.statusCode;
  if (err.type === 'entity.parse.failed') return new AppError(400, 'malformed_json', 'the request body is not valid JSON');
  if (err.type === 'entity.too.large' || err.code === 'LIMIT_FILE_SIZE')
    return new AppError(413, 'payload_too_large', 'the request body is too large');
  if (err.code?.startsWith('LIMIT_')) return new AppError(400, 'bad_upload', err.message ?? 'bad upload');
  if (status && status >= 400 && status < 500) return new AppError(status, 'bad_request', err.message ?? 'bad request');
  return undefined;
}

export const notFoundHandler: RequestHandler = (req) => {
  throw notFound(`no route for ${req.method} ${req.path}`);
};

/** The one error handler: RFC 9457 problem details for every 4xx/5xx; no stack traces to clients. */
export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const e = err instanceof AppError ? err : (fromFrameworkError(err) ?? new AppError(500, 'internal', 'an unexpected error occurred'));
  if (e.status >= 500) req.log.error({ err }, 'request failed');
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
