import { pino, type Logger } from 'pino';
import { logContext } from './tracing.js';

export type { Logger };

/** The serialized bindings of a (child) logger: the fields every line of it already carries. */
const bindingsOf = (logger: Logger): string => (logger as unknown as Record<symbol, string | undefined>)[pino.symbols.chindingsSym] ?? '';

/**
 * Every line gets the active trace and span ids and the request id of the work in progress
 * (lib/tracing.ts: an HTTP request, or the request an event came from), read from the async
 * context, so lines logged by the domain through the process's logger carry them too. A field the
 * logger is already bound to (a job's child logger has requestId) is not written twice.
 */
function traceFields(_merge: object, _level: number, logger: Logger): object {
  const fields: Record<string, string> = logContext();
  const keys = Object.keys(fields);
  if (keys.length === 0) return fields;
  const bound = bindingsOf(logger);
  for (const k of keys) if (bound.includes(`"${k}":`)) delete fields[k];
  return fields;
}

/** One JSON logger per process; secrets never reach the output. */
export function createLogger(opts: { level: string; name: string; instance: string }): Logger {
  return pino({
    level: opts.level,
    base: { svc: opts.name, instance: opts.instance },
    mixin: traceFields,
    redact: {
      paths: [
        'req.headers.cookie',
        'req.headers.authorization',
        'req.headers["x-csrf-token"]',
        'res.headers["set-cookie"]',
        '*.password',
        '*.passwordHash',
        'password',
        'sessionId',
      ],
      censor: '[redacted]',
    },
  });
}
