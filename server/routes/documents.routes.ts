// Applicant documents: multipart upload (one file, field `file`) into GridFS and the list.
import { Router, type Request } from 'express';
import { z } from 'zod';
import { applicationId } from '../../lib/domain/applications/schemas.js';
import { ocrFor, viewFor } from '../../lib/domain/applications/view.js';
import { listDocuments, uploadDocument } from '../../lib/domain/documents/upload.js';
import type { UploadSlots } from '../../lib/domain/documents/upload-slots.js';
import type { ApiContext } from '../context.js';
import { actor, roleOf } from '../middleware/auth.js';
import { documentUpload } from '../middleware/document-upload.js';
import { parse } from '../middleware/validate.js';
import { routes } from '../openapi/operation.js';
import { applicationView, documentView } from '../openapi/schemas.js';

const idParams = z.strictObject({ id: applicationId });
const tags = ['documents'];

/** What the upload routes answer for the stored document. */
export const uploadedDocument = z.object({ id: z.string(), contentType: z.string(), size: z.number().int() }).loose();

export function documentRoutes(d: ApiContext, slots: UploadSlots): Router {
  const r = Router();
  const t = routes(r);
  const upload = documentUpload(d, slots);
  const meta = (req: Request) => ({ actor: actor(req), requestId: String(req.id) });

  t.post(
    '/:id/documents',
    {
      summary: 'Upload an applicant document (PNG, JPEG or PDF); OCR starts when the application is ready for it',
      tags,
      security: 'session',
      role: 'reviewer',
      params: idParams,
      upload: { field: 'file', maxBytes: d.cfg.UPLOAD_LIMIT_BYTES },
      // The id is checked before the body is read; then the one file part is received.
      before: [
        (req, res, next) => {
          parse(idParams, req.params, 'params');
          upload.receive(actor(req).id, req, res, next);
        },
      ],
      responses: {
        201: {
          description: 'stored',
          schema: z.object({ document: documentView, application: applicationView }),
          headers: { Location: 'the documents list' },
        },
        404: { description: 'no such application' },
        409: { description: 'the application no longer takes documents' },
        422: { description: 'not a supported document, or an image too large to read' },
        429: { description: 'too many uploads of this user in flight (Retry-After)' },
        503: { description: 'too many uploads in flight on this instance (Retry-After)' },
      },
    },
    async ({ params: { id } }, req, res) => {
      const { document, application } = await uploadDocument(d, id, upload.file(req), meta(req), { maxPixels: d.cfg.IMAGE_MAX_PIXELS });
      res
        .status(201)
        .location(`/api/applications/${id}/documents`)
        .json({ document, application: viewFor(roleOf(req), application) });
    },
  );

  t.get(
    '/:id/documents',
    {
      summary: "The application's documents, each with its OCR result when it was read",
      tags,
      security: 'session',
      role: 'viewer',
      params: idParams,
      responses: {
        200: { description: 'the documents', schema: z.object({ items: z.array(documentView.extend({ ocr: z.unknown().nullable() })) }) },
        404: { description: 'no such application' },
      },
    },
    async ({ params: { id } }, req, res) => {
      const role = roleOf(req);
      res.json({ items: (await listDocuments(d, id)).map((doc) => ({ ...doc, ocr: doc.ocr ? ocrFor(role, doc.ocr) : null })) });
    },
  );
  return r;
}
