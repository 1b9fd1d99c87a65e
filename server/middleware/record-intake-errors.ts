// Error-path middleware on the partner router: a loan request refused as invalid (POST
// /api/loan/request answered 400 or 422 — a failed schema, malformed JSON, a bad Idempotency-Key
// header, a key reused with another body) becomes an error-log entry (code INVALID_INPUT, …, with
// the field paths, the partner, the body's loanId when it is a string, the request id; never the
// body). It only observes: the error goes on to the one error handler unchanged, at once, and the
// write runs in the background, so recording never delays or changes the client's answer, and a
// failed write is only logged. Cost is bounded: refused requests already count against the
// partner's shared rate limit (which runs first), and the recorder folds the occurrences of an
// entry whose write is still in flight into one follow-up write and writes at most
// INTAKE_RECORDS_IN_FLIGHT entries at once per instance (dropping beyond): a flood of bad requests
// never amplifies into one write each.
import type { ErrorRequestHandler, Response } from 'express';
import { CoalescingRecorder } from '../../lib/domain/error-log/coalesce.js';
import { intakeOccurrence } from '../../lib/domain/error-log/intake.js';
import { recordError } from '../../lib/domain/error-log/record.js';
import { AppError } from '../../lib/errors.js';
import type { ApiContext } from '../context.js';
import { partnerOf } from './partner-auth.js';

const INTAKE_RECORDS_IN_FLIGHT = 64;
const RECORDED_STATUSES = new Set([400, 422]);

/** The problem the error handler will answer with, when it is a 400/422 this records. */
function refusalOf(err: unknown): { problem: string; detail: string; errors: unknown } | undefined {
  if (err instanceof AppError) {
    return RECORDED_STATUSES.has(err.status) ? { problem: err.code, detail: err.message, errors: err.extra.errors } : undefined;
  }
  // body-parser's error for a body that is not JSON (the error handler answers 400 malformed_json)
  if (err && typeof err === 'object' && 'type' in err && err.type === 'entity.parse.failed') {
    return { problem: 'malformed_json', detail: 'the request body is not valid JSON', errors: undefined };
  }
  return undefined;
}

const partnerIdOf = (res: Response): string | undefined => {
  try {
    return partnerOf(res).partnerId;
  } catch {
    return undefined; // not authenticated (a 401): not a partner's refused request
  }
};

export function recordIntakeErrors(d: ApiContext): ErrorRequestHandler {
  const recorder = new CoalescingRecorder({
    write: (o, times) => recordError(d.c, o, { retentionDays: d.cfg.ERROR_LOG_RETENTION_DAYS, times }),
    maxKeys: INTAKE_RECORDS_IN_FLIGHT,
    onError: (err) => {
      if (!d.lifecycle.draining) d.log.warn({ err }, 'recording a refused loan request in the error log failed');
    },
  });
  return (err, req, res, next) => {
    try {
      const refusal = req.method === 'POST' && /^\/request\/?$/.test(req.path) ? refusalOf(err) : undefined;
      const partnerId = refusal ? partnerIdOf(res) : undefined;
      if (refusal && partnerId) {
        recorder.record(intakeOccurrence({ ...refusal, partnerId, body: req.body, requestId: String(req.id) }));
      }
    } catch (e) {
      req.log.warn({ err: e }, 'could not record a refused loan request');
    }
    next(err);
  };
}
