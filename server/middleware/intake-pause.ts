// While intake is paused (POST /api/admin/intake/pause), new loan requests get a 503 problem with
// Retry-After; status reads and everything already accepted carry on.
import type { RequestHandler } from 'express';
import type { IntakePauseCache } from '../../lib/domain/intake/controls.js';
import { AppError } from '../../lib/errors.js';

const RETRY_AFTER_SECONDS = 30;

export function refuseWhilePaused(pause: IntakePauseCache): RequestHandler {
  return (_req, _res, next) => {
    if (!pause.isPaused()) return next();
    throw new AppError(503, 'intake_paused', 'loan request intake is paused by an operator; retry later', {
      retryAfterSeconds: RETRY_AFTER_SECONDS,
    });
  };
}
