// Use case: a reviewer uploads an applicant document. The file goes to GridFS first (it cannot
// join a transaction); then ONE transaction references it on the application, moves the status
// to ocr_pending, bumps the version, writes the audit entry and (through the pipeline hook)
// publishes `ocr.requested`. If that transaction fails the file is deleted best-effort; a crash
// between the two steps leaves an orphan file no application refers to (harmless, collectable).
import { AppError, conflict, notFound, unprocessable } from '../../errors.js';
import { updateWithRetry } from '../applications/commands.js';
import { findApplication, findDocumentsOf } from '../applications/repository.js';
import type { Status } from '../applications/status.js';
import type { ApplicationDoc, DocumentRef, OcrResult } from '../applications/types.js';
import type { DomainContext, Meta } from '../context.js';
import { sniffImageType } from './file-type.js';
import { imageRefusal } from './image-size.js';
import { deleteFile, storeFile } from './storage.js';

/** States from which a new document (re)starts the pipeline. */
const UPLOAD_FROM: readonly Status[] = ['submitted', 'under_review', 'pending_review'];

function assertUploadable(doc: ApplicationDoc | null, id: string): asserts doc is ApplicationDoc {
  if (!doc) throw notFound(`application ${id} does not exist`);
  if (!UPLOAD_FROM.includes(doc.status)) {
    throw conflict(`documents can be added only while the application is ${UPLOAD_FROM.join(', ')}; it is ${doc.status}`, {
      currentStatus: doc.status,
    });
  }
}

export async function uploadDocument(
  ctx: DomainContext,
  applicationId: string,
  file: { data: Buffer; originalName: string },
  meta: Meta,
  limits: { maxPixels: number },
): Promise<{ document: DocumentRef; application: ApplicationDoc }> {
  const contentType = sniffImageType(file.data);
  if (!contentType) throw new AppError(415, 'unsupported_media_type', 'the file is not a PNG, JPEG or TIFF image (checked by its content)');
  // Dimensions from the header, before anything decodes the image (decompression bombs).
  const refusal = imageRefusal(file.data, limits.maxPixels);
  if (refusal) throw unprocessable(refusal, { maxPixels: limits.maxPixels });
  const app = await findApplication(ctx.c, applicationId);
  assertUploadable(app, applicationId);

  const originalName = file.originalName.replace(/[^\w .()-]+/g, '_').slice(0, 200) || 'document';
  const stored = await storeFile(ctx.db, file.data, { applicationId, contentType, originalName, uploadedBy: meta.actor });
  const ref: DocumentRef = {
    id: stored.id.toHexString(),
    contentType,
    originalName,
    size: stored.size,
    sha256: stored.sha256,
    uploadedAt: new Date(),
    uploadedBy: meta.actor,
  };
  try {
    const application = await updateWithRetry(
      ctx,
      app,
      (doc) => {
        assertUploadable(doc, applicationId);
        return { status: 'ocr_pending', documents: [...(doc.documents ?? []), { ...ref }] };
      },
      meta,
    );
    return { document: ref, application };
  } catch (e) {
    await deleteFile(ctx.db, stored.id);
    throw e;
  }
}

export async function listDocuments(ctx: DomainContext, applicationId: string): Promise<Array<DocumentRef & { ocr: OcrResult | null }>> {
  const doc = await findDocumentsOf(ctx.c, applicationId);
  if (!doc) throw notFound(`application ${applicationId} does not exist`);
  const ocrFor = doc.ocr?.documentId;
  return (doc.documents ?? []).map((d) => ({ ...d, ocr: d.id === ocrFor ? (doc.ocr ?? null) : null }));
}
