// Use case for the OCR worker: read the document, run OCR, extract the fields, compare them with
// what the applicant declared and — in one transaction with a version check — store the result,
// move ocr_pending → scoring and (pipeline hook) publish `approval.requested`.
import { ObjectId } from 'mongodb';
import { PermanentError } from '../../queue/index.js';
import { updateWithRetry } from '../applications/commands.js';
import { findApplication } from '../applications/repository.js';
import type { ApplicationDoc, Mismatch } from '../applications/types.js';
import type { DomainContext } from '../context.js';
import { extractFields, type ExtractedFields } from '../documents/extract-fields.js';
import { readFile } from '../documents/storage.js';
import { incomeDiffers, namesMatch } from '../risk/compare.js';
import { DEFAULT_POLICY } from '../risk/types.js';
import { WORKER_ACTORS, type OcrRequested } from './events.js';

export type Recognize = (image: Buffer, signal: AbortSignal) => Promise<string>;

function mismatchesOf(
  app: Pick<ApplicationDoc, 'applicant' | 'income'>,
  f: ExtractedFields,
  tolerance = DEFAULT_POLICY.incomeTolerance,
): Mismatch[] {
  const out: Mismatch[] = [];
  if (f.name !== null && !namesMatch(app.applicant.name, f.name))
    out.push({ field: 'name', declared: app.applicant.name, extracted: f.name });
  if (f.income !== null && incomeDiffers(app.income, f.income, tolerance))
    out.push({ field: 'income', declared: app.income, extracted: f.income });
  return out;
}

/** The OCR job still applies only while the application waits for OCR of this very document. */
const waitsFor = (doc: ApplicationDoc, documentId: string) => doc.status === 'ocr_pending' && doc.documents?.at(-1)?.id === documentId;

export async function runOcr(
  ctx: DomainContext,
  recognize: Recognize,
  p: OcrRequested,
  job: { signal: AbortSignal; requestId?: string | undefined },
) {
  const app = await findApplication(ctx.c, p.applicationId);
  if (!app) throw new PermanentError(`application ${p.applicationId} does not exist`);
  if (!waitsFor(app, p.documentId)) return { outcome: 'skipped', status: app.status };

  const image = await readFile(ctx.db, new ObjectId(p.documentId));
  if (!image) throw new PermanentError(`document ${p.documentId} is missing from GridFS`);
  const text = await recognize(image, job.signal);
  const fields = extractFields(text);

  const after = await updateWithRetry(
    ctx,
    app,
    (doc) =>
      waitsFor(doc, p.documentId)
        ? {
            status: 'scoring',
            ocr: { documentId: p.documentId, fields, mismatches: mismatchesOf(doc, fields), text: text.slice(0, 4000), readAt: new Date() },
          }
        : null,
    { actor: WORKER_ACTORS.ocr, requestId: job.requestId },
  );
  return { outcome: after.status === 'scoring' ? 'scored' : 'skipped', fields };
}
