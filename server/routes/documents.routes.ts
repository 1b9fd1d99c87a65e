// Applicant documents: multipart upload (one file, field `file`) into GridFS and the list.
import { Router, type Request } from 'express';
import { z } from 'zod';
import { applicationId } from '../../lib/domain/applications/schemas.js';
import { ocrFor, viewFor } from '../../lib/domain/applications/view.js';
import { listDocuments, uploadDocument } from '../../lib/domain/documents/upload.js';
import type { UploadSlots } from '../../lib/domain/documents/upload-slots.js';
import type { ApiContext } from '../context.js';
import { actor, requireRole, roleOf } from '../middleware/auth.js';
import { documentUpload } from '../middleware/document-upload.js';
import { parse } from '../middleware/validate.js';

const idParams = z.strictObject({ id: applicationId });

export function documentRoutes(d: ApiContext, slots: UploadSlots): Router {
  const r = Router();
  const upload = documentUpload(d, slots);
  const meta = (req: Request) => ({ actor: actor(req), requestId: String(req.id) });

  r.post(
    '/:id/documents',
    requireRole('reviewer'),
    (req, res, next) => {
      parse(idParams, req.params, 'params');
      upload.receive(actor(req).id, req, res, next);
    },
    async (req, res) => {
      const { id } = parse(idParams, req.params, 'params');
      const { document, application } = await uploadDocument(d, id, upload.file(req), meta(req), { maxPixels: d.cfg.IMAGE_MAX_PIXELS });
      res
        .status(201)
        .location(`/api/applications/${id}/documents`)
        .json({ document, application: viewFor(roleOf(req), application) });
    },
  );

  r.get('/:id/documents', requireRole('viewer'), async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const role = roleOf(req);
    res.json({ items: (await listDocuments(d, id)).map((doc) => ({ ...doc, ocr: doc.ocr ? ocrFor(role, doc.ocr) : null })) });
  });
  return r;
}
