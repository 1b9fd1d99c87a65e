// Applicant documents: multipart upload (one file, field `file`) into GridFS and the list.
import { Router, type Request } from 'express';
import multer from 'multer';
import { z } from 'zod';
import { applicationId } from '../../lib/domain/applications/schemas.js';
import { toView } from '../../lib/domain/applications/view.js';
import { listDocuments, uploadDocument } from '../../lib/domain/documents/upload.js';
import { badRequest } from '../../lib/errors.js';
import type { ApiContext } from '../context.js';
import { actor, requireRole } from '../middleware/auth.js';
import { parse } from '../middleware/validate.js';

const idParams = z.strictObject({ id: applicationId });
const noFields = z.strictObject({});

export function documentRoutes(d: ApiContext): Router {
  const r = Router();
  // Memory storage bounded by UPLOAD_LIMIT_BYTES: the file is checked by its magic bytes before
  // anything is written; one file, no other parts.
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
      );
      res
        .status(201)
        .location(`/api/applications/${id}/documents`)
        .json({ document, application: toView(application) });
    },
  );

  r.get('/:id/documents', requireRole('viewer'), async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    res.json({ items: await listDocuments(d, id) });
  });
  return r;
}
