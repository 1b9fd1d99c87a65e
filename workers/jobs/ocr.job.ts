// ocr.requested → tesseract on the uploaded document → fields + mismatches → scoring.
import { EVENT, MAX_ATTEMPTS, WORKER_ACTORS, ocrRequested, type OcrRequested } from '../../lib/domain/pipeline/events.js';
import { runOcr } from '../../lib/domain/pipeline/run-ocr.js';
import { recognize } from '../../lib/ocr/tesseract.js';
import type { JobDefinition } from '../../lib/queue/index.js';
import { failStageOnGiveUp, type JobEnv } from './env.js';

export function ocrJob(env: JobEnv): JobDefinition<OcrRequested> {
  const ocrEnv = {
    deps: env.deps, db: env.db,
    recognize: (image: Buffer, signal: AbortSignal) => recognize(image, { bin: env.cfg.TESSERACT_BIN, signal, timeoutMs: env.cfg.OCR_TIMEOUT_MS }),
  };
  return {
    type: EVENT.ocr,
    payload: ocrRequested,
    maxAttempts: MAX_ATTEMPTS[EVENT.ocr],
    handle: (p, ctx) => failStageOnGiveUp(env, {
      applicationId: p.applicationId, from: 'ocr_pending', stage: 'ocr', maxAttempts: MAX_ATTEMPTS[EVENT.ocr], actor: WORKER_ACTORS.ocr,
    }, ctx, () => runOcr(ocrEnv, p, ctx)),
  };
}
