// Use case for the OCR worker: read the document, run OCR, extract the fields, compare them with
// what the applicant declared and — in one transaction with a version check — store the result,
// move ocr_pending → scoring and (pipeline hook) publish `approval.requested`.
import { ObjectId, type Db } from 'mongodb';
import type { ApplicationDoc } from '../../db/collections.js';
import { PermanentError } from '../../queue/index.js';
import { updateWithRetry } from '../applications/commands.js';
import type { Deps } from '../applications/context.js';
import { extractFields, type ExtractedFields } from '../documents/extract-fields.js';
import { readFile } from '../documents/storage.js';
import { incomeDiffers, namesMatch } from '../risk/compare.js';
import { DEFAULT_POLICY } from '../risk/types.js';
import { WORKER_ACTORS, type OcrRequested } from './events.js';
import { withPipelineHooks } from './hooks.js';

export interface OcrEnv { deps: Deps; db: Db; recognize(image: Buffer, signal: AbortSignal): Promise<string> }
export type Mismatch = { field: 'name' | 'income'; declared: unknown; extracted: unknown };

export function mismatchesOf(app: Pick<ApplicationDoc, 'applicant' | 'income'>, f: ExtractedFields, tolerance = DEFAULT_POLICY.incomeTolerance): Mismatch[] {
  const out: Mismatch[] = [];
  if (f.name !== null && !namesMatch(app.applicant.name, f.name)) out.push({ field: 'name', declared: app.applicant.name, extracted: f.name });
  if (f.income !== null && incomeDiffers(app.income, f.income, tolerance)) out.push({ field: 'income', declared: app.income, extracted: f.income });
  return out;
}

/** The OCR job still applies only while the application waits for OCR of this very document. */
const waitsFor = (doc: ApplicationDoc, documentId: string) => doc.status === 'ocr_pending' && doc.documents?.at(-1)?.id === documentId;

export async function runOcr(env: OcrEnv, p: OcrRequested, ctx: { signal: AbortSignal; requestId?: string | undefined }) {
  const app = await env.deps.c.applications.findOne({ _id: p.applicationId });
  if (!app) throw new PermanentError(`application ${p.applicationId} does not exist`);
  if (!waitsFor(app, p.documentId)) return { outcome: 'skipped', status: app.status };

  const image = await readFile(env.db, new ObjectId(p.documentId));
  if (!image) throw new PermanentError(`document ${p.documentId} is missing from GridFS`);
  const text = await env.recognize(image, ctx.signal);
  const fields = extractFields(text);

  const after = await updateWithRetry(withPipelineHooks(env.deps), p.applicationId, (doc) => waitsFor(doc, p.documentId)
    ? {
        status: 'scoring',
        ocr: { documentId: p.documentId, fields, mismatches: mismatchesOf(doc, fields), text: text.slice(0, 4000), readAt: new Date() },
      }
    : null, { actor: WORKER_ACTORS.ocr, requestId: ctx.requestId });
  return { outcome: after.status === 'scoring' ? 'scored' : 'skipped', fields };
}
