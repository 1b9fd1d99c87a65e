import { pino, type Logger } from 'pino';

export type { Logger };

/** One JSON logger per process; secrets never reach the output. */
export function createLogger(opts: { level: string; name: string; instance: string }): Logger {
  return pino({
    level: opts.level,
    base: { svc: opts.name, instance: opts.instance },
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
