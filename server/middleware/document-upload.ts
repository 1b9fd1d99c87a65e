// Receiving one applicant document (multipart, one part named `file`), for the admin upload and
// the partner upload alike. Memory storage bounded by UPLOAD_LIMIT_BYTES per upload and by the
// upload slots (UPLOADS_IN_FLIGHT_MAX per instance, UPLOADS_IN_FLIGHT_PER_USER) in number: at
// most UPLOADS_IN_FLIGHT_MAX × UPLOAD_LIMIT_BYTES of bodies in memory. The file is checked by its
// magic bytes and header dimensions by the upload use case before anything is written.
import type { NextFunction, Request, Response } from 'express';
import multer from 'multer';
import { z } from 'zod';
import type { UploadSlots } from '../../lib/domain/documents/upload-slots.js';
import { badRequest } from '../../lib/errors.js';
import type { ApiContext } from '../context.js';
import { parse } from './validate.js';

const noFields = z.strictObject({});

export function documentUpload(d: ApiContext, slots: UploadSlots) {
  const upload = multer({
    storage: multer.memoryStorage(),
    limits: { fileSize: d.cfg.UPLOAD_LIMIT_BYTES, files: 1, fields: 0, parts: 1 },
  }).single('file');
  return {
    /** Reads the body: multipart only; the uploader's slot is taken first and given back when the response ends. */
    receive(uploader: string, req: Request, res: Response, next: NextFunction): void {
      if (!req.is('multipart/form-data')) throw badRequest('send the document as multipart/form-data with one part named "file"');
      res.once('close', slots.acquire(uploader));
      upload(req, res, next);
    },
    /** The received file: one non-empty part named `file`, no other fields. */
    file(req: Request): { data: Buffer; originalName: string } {
      parse(noFields, req.body ?? {}, 'body');
      if (!req.file || req.file.size === 0) throw badRequest('a non-empty file part named "file" is required');
      return { data: req.file.buffer, originalName: req.file.originalname };
    },
  };
}
