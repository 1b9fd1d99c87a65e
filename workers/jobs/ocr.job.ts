// ocr.requested → tesseract on the uploaded document → fields + mismatches → scoring.
import { EVENT, MAX_ATTEMPTS, WORKER_ACTORS, ocrRequested, type OcrRequested } from '../../lib/domain/pipeline/events.js';
import { runOcr } from '../../lib/domain/pipeline/run-ocr.js';
import { recognize } from '../../lib/ocr/tesseract.js';
import type { JobDefinition } from '../../lib/queue/index.js';
import type { WorkerContext } from '../context.js';
import { failApplicationOnGiveUp } from './fail-application.js';

export function ocrJob(ctx: WorkerContext): JobDefinition<OcrRequested> {
  const ocr = (image: Buffer, signal: AbortSignal) =>
    recognize(image, {
      bin: ctx.cfg.TESSERACT_BIN,
      signal,
      timeoutMs: ctx.cfg.OCR_TIMEOUT_MS,
      maxPixels: ctx.cfg.IMAGE_MAX_PIXELS,
      memoryLimitBytes: ctx.cfg.OCR_MEMORY_LIMIT_MB * 1024 * 1024,
    });
  return {
    type: EVENT.ocr,
    payload: ocrRequested,
    maxAttempts: MAX_ATTEMPTS[EVENT.ocr],
    handle: (p, job) => runOcr(ctx, ocr, p, job),
    onGiveUp: failApplicationOnGiveUp(ctx, 'ocr', 'ocr_pending', WORKER_ACTORS.ocr),
  };
}
