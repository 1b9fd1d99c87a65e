// Applicant documents: multipart upload (one file, field `file`) into GridFS and the list.
import { Router, type Request } from 'express';
import multer from 'multer';
import { z } from 'zod';
import { applicationId } from '../../lib/domain/applications/schemas.js';
import { ocrFor, viewFor } from '../../lib/domain/applications/view.js';
import { listDocuments, uploadDocument } from '../../lib/domain/documents/upload.js';
import type { UploadSlots } from '../../lib/domain/documents/upload-slots.js';
import { badRequest } from '../../lib/errors.js';
import type { ApiContext } from '../context.js';
import { actor, requireRole, roleOf } from '../middleware/auth.js';
import { parse } from '../middleware/validate.js';

const idParams = z.strictObject({ id: applicationId });
const noFields = z.strictObject({});

export function documentRoutes(d: ApiContext, slots: UploadSlots): Router {
  const r = Router();
  // Memory storage bounded by UPLOAD_LIMIT_BYTES per upload and by `slots` (UPLOADS_IN_FLIGHT_MAX
  // per instance, UPLOADS_IN_FLIGHT_PER_USER) in number: at most UPLOADS_IN_FLIGHT_MAX ×
  // UPLOAD_LIMIT_BYTES of upload bodies in memory. The file is checked by its magic bytes and its
  // header dimensions before anything is written; one file, no other parts.
  const upload = multer({
    storage: multer.memoryStorage(),
    limits: { fileSize: d.cfg.UPLOAD_LIMIT_BYTES, files: 1, fields: 0, parts: 1 },
  }).single('file');
  const meta = (req: Request) => ({ actor: actor(req), requestId: String(req.id) });

  r.post(
    '/:id/documents',
    requireRole('reviewer'),
    (req, res, next) => {
      parse(idParams, req.params, 'params');
      if (!req.is('multipart/form-data')) throw badRequest('send the document as multipart/form-data with one part named "file"');
      // The slot is taken before the body is read and given back when the response ends (or the client goes away).
      res.once('close', slots.acquire(actor(req).id));
      upload(req, res, next);
    },
    async (req, res) => {
      const { id } = parse(idParams, req.params, 'params');
      parse(noFields, req.body ?? {}, 'body');
      if (!req.file || req.file.size === 0) throw badRequest('a non-empty file part named "file" is required');
      const { document, application } = await uploadDocument(
        d,
        id,
        { data: req.file.buffer, originalName: req.file.originalname },
        meta(req),
        { maxPixels: d.cfg.IMAGE_MAX_PIXELS },
      );
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
