import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { context, isSpanContextValid } from '@opentelemetry/api';
import type { Request, RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../../lib/logger.js';
import { startRequestSpan } from '../../lib/tracing.js';
import { routeLabel } from './metrics.js';

const VALID_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The trace ids of each request's span, for pino-http's request-completed line. */
const traceIds = new WeakMap<IncomingMessage, { traceId: string; spanId: string }>();

/**
 * Request id from `X-Request-Id` (nginx sets it) when well-formed, else a new UUID; echoed in the
 * response and bound to every log line of the request. pino-http's own counter would collide
 * across instances.
 *
 * Each request runs in its own SERVER span (lib/tracing.ts): it continues the caller's W3C
 * `traceparent` (nginx passes it through) or starts a new trace, is named after the route template
 * once the response is sent (`POST /api/loan/request`), and its context (trace id, request id) is
 * active for everything the request does: log lines, events it publishes, outbound calls.
 */
export function requestContext(logger: Logger): RequestHandler {
  const http = pinoHttp({
    logger,
    genReqId(req) {
      return req.id;
    },
    customProps: (req) => traceIds.get(req) ?? {},
    customLogLevel: (_req, res, err) =>
      res.statusCode === 503 ? 'warn' : err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
    serializers: {
      req: (req: { id: string; method: string; url: string; remoteAddress?: string }) => ({
        id: req.id,
        method: req.method,
        url: req.url,
        remoteAddress: req.remoteAddress,
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    autoLogging: { ignore: (req) => req.url === '/health' || req.url === '/ready' || req.url === '/metrics' },
  });
  return (req, res, next) => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && VALID_ID.test(given) ? given : randomUUID();
    req.id = id;
    res.setHeader('X-Request-Id', id);
    const { span, ctx, end } = startRequestSpan(req.headers, id, { 'http.request.method': req.method, 'url.path': req.path });
    const sc = span.spanContext();
    if (isSpanContextValid(sc)) traceIds.set(req, { traceId: sc.traceId, spanId: sc.spanId });
    let ended = false;
    const finish = () => {
      if (ended) return;
      ended = true;
      end(`${req.method} ${routeLabel(req as Request, res.statusCode)}`, res.statusCode);
    };
    res.once('finish', finish);
    res.once('close', finish);
    context.with(ctx, () => http(req, res, next));
  };
}
