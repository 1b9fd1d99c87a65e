// Partner intake (behind requirePartnerKey): submit a loan request idempotently, read its status,
// add an applicant document (which starts OCR as an admin's upload does). A partner only ever
// sees its own applications: another partner's id is a 404.
import { Router } from 'express';
import { z } from 'zod';
import { uploadDocument } from '../../lib/domain/documents/upload.js';
import type { UploadSlots } from '../../lib/domain/documents/upload-slots.js';
import { idempotencyKey, loanRequestInput, loanRequestParams } from '../../lib/domain/intake/schemas.js';
import { acceptedBody, isPartnersApplication, loanRequestIntake, loanRequestStatus } from '../../lib/domain/intake/submit.js';
import { partnerActor } from '../../lib/domain/partners/types.js';
import { badRequest, notFound } from '../../lib/errors.js';
import type { ApiContext } from '../context.js';
import { documentUpload } from '../middleware/document-upload.js';
import { partnerOf } from '../middleware/partner-auth.js';
import { parse } from '../middleware/validate.js';
import { sampleLoanRequestBody } from '../openapi/examples.js';
import { routes } from '../openapi/operation.js';
import { loanRequestAccepted, loanRequestStatus as statusSchema, status } from '../openapi/schemas.js';
import { uploadedDocument } from './documents.routes.js';

const tags = ['partner intake'];
const unknown = { description: 'no such loan request of this partner' };

export function intakeRoutes(d: ApiContext, slots: UploadSlots): Router {
  const r = Router();
  const t = routes(r);
  const upload = documentUpload(d, slots);
  const intake = loanRequestIntake(d, { maxBatch: d.cfg.INTAKE_BATCH_MAX, concurrency: d.cfg.INTAKE_COMMIT_CONCURRENCY });

  t.post(
    '/',
    {
      summary: 'Submit a loan request: durable (majority commit) before the 202, idempotent per partner',
      description:
        'The Idempotency-Key header (else loanId) is the key, scoped to the partner. A replay with the same body answers the first response with Idempotent-Replayed: true; the same key with another body is 422. Rules that fail (LOW_CREDIT_SCORE, LOAN_TOO_LARGE) still give 202: the request ends rejected through the pipeline.',
      tags,
      security: 'partner',
      body: loanRequestInput,
      headers: { 'Idempotency-Key': '1–255 printable ASCII characters; defaults to the body’s loanId' },
      example: sampleLoanRequestBody,
      responses: {
        202: {
          description: 'accepted (or a replay of the first answer)',
          schema: loanRequestAccepted,
          headers: { Location: 'the status URL', 'Idempotent-Replayed': '"true" on a replay' },
        },
        409: { description: 'the first request with this key is still being processed; retry' },
        422: { description: 'this idempotency key was used with another body' },
        503: { description: 'intake is paused (Retry-After)', headers: { 'Retry-After': 'seconds' } },
      },
    },
    async ({ body }, req, res) => {
      const header = req.get('idempotency-key');
      const key = header === undefined ? undefined : idempotencyKey.safeParse(header);
      if (key && !key.success) {
        throw badRequest('invalid Idempotency-Key header', {
          errors: [{ in: 'headers', path: 'idempotency-key', message: key.error.issues[0]?.message }],
        });
      }
      const { id, replayed } = await intake.submit(partnerOf(res), body, key?.data, String(req.id));
      if (replayed) res.setHeader('Idempotent-Replayed', 'true');
      const answer = acceptedBody(id);
      res.status(202).location(answer.statusUrl).json(answer);
    },
  );

  t.get(
    '/:id',
    {
      summary: "A loan request's status, reasons and version (this partner's only)",
      tags,
      security: 'partner',
      params: loanRequestParams,
      responses: { 200: { description: 'the status', schema: statusSchema }, 404: unknown },
    },
    async ({ params: { id } }, _req, res) => {
      const found = await loanRequestStatus(d, partnerOf(res).partnerId, id);
      if (!found) throw notFound(`loan request ${id} does not exist`);
      res.json(found);
    },
  );

  t.post(
    '/:id/documents',
    {
      summary: 'Add an applicant document to the loan request; OCR starts when it is ready for it',
      tags,
      security: 'partner',
      params: loanRequestParams,
      upload: { field: 'file', maxBytes: d.cfg.UPLOAD_LIMIT_BYTES },
      // Ownership before the body is read: another partner's id is a 404 like an unknown one.
      before: [
        async (req, res, next) => {
          const { id } = parse(loanRequestParams, req.params, 'params');
          const partner = partnerOf(res);
          if (!(await isPartnersApplication(d, partner.partnerId, id))) throw notFound(`loan request ${id} does not exist`);
          upload.receive(partnerActor(partner).id, req, res, next);
        },
      ],
      responses: {
        201: { description: 'stored', schema: z.object({ document: uploadedDocument, status }), headers: { Location: 'the status URL' } },
        404: unknown,
        409: { description: 'the application no longer takes documents' },
        422: { description: 'not a supported document' },
        429: { description: 'too many uploads of this partner in flight (Retry-After)' },
        503: { description: 'too many uploads in flight on this instance (Retry-After)' },
      },
    },
    async ({ params: { id } }, req, res) => {
      const { document, application } = await uploadDocument(
        d,
        id,
        upload.file(req),
        { actor: partnerActor(partnerOf(res)), requestId: String(req.id) },
        { maxPixels: d.cfg.IMAGE_MAX_PIXELS },
      );
      res
        .status(201)
        .location(`/api/loan/request/${id}`)
        .json({ document: { id: document.id, contentType: document.contentType, size: document.size }, status: application.status });
    },
  );
  return r;
}
