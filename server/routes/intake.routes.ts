// Partner intake (behind requirePartnerKey): submit a loan request idempotently, read its status,
// add an applicant document (which starts OCR as an admin's upload does). A partner only ever
// sees its own applications: another partner's id is a 404.
import { Router } from 'express';
import { uploadDocument } from '../../lib/domain/documents/upload.js';
import type { UploadSlots } from '../../lib/domain/documents/upload-slots.js';
import { idempotencyKey, loanRequestInput, loanRequestParams } from '../../lib/domain/intake/schemas.js';
import { acceptedBody, isPartnersApplication, loanRequestIntake, loanRequestStatus } from '../../lib/domain/intake/submit.js';
import { partnerActor } from '../../lib/domain/partners/types.js';
import { badRequest, notFound } from '../../lib/errors.js';
import type { ApiContext } from '../context.js';
import { partnerOf } from '../middleware/partner-auth.js';
import { documentUpload } from '../middleware/document-upload.js';
import { body, parse } from '../middleware/validate.js';

export function intakeRoutes(d: ApiContext, slots: UploadSlots): Router {
  const r = Router();
  const upload = documentUpload(d, slots);
  const intake = loanRequestIntake(d, { maxBatch: d.cfg.INTAKE_BATCH_MAX, concurrency: d.cfg.INTAKE_COMMIT_CONCURRENCY });

  r.post('/', async (req, res) => {
    const input = body(req, loanRequestInput);
    const header = req.get('idempotency-key');
    const key = header === undefined ? undefined : idempotencyKey.safeParse(header);
    if (key && !key.success) {
      throw badRequest('invalid Idempotency-Key header', {
        errors: [{ in: 'headers', path: 'idempotency-key', message: key.error.issues[0]?.message }],
      });
    }
    const { id, replayed } = await intake.submit(partnerOf(res), input, key?.data, String(req.id));
    if (replayed) res.setHeader('Idempotent-Replayed', 'true');
    const answer = acceptedBody(id);
    res.status(202).location(answer.statusUrl).json(answer);
  });

  r.get('/:id', async (req, res) => {
    const { id } = parse(loanRequestParams, req.params, 'params');
    const status = await loanRequestStatus(d, partnerOf(res).partnerId, id);
    if (!status) throw notFound(`loan request ${id} does not exist`);
    res.json(status);
  });

  r.post(
    '/:id/documents',
    async (req, res, next) => {
      const { id } = parse(loanRequestParams, req.params, 'params');
      const partner = partnerOf(res);
      // Ownership before the body is read: another partner's id is a 404 like an unknown one.
      if (!(await isPartnersApplication(d, partner.partnerId, id))) throw notFound(`loan request ${id} does not exist`);
      upload.receive(partnerActor(partner).id, req, res, next);
    },
    async (req, res) => {
      const { id } = parse(loanRequestParams, req.params, 'params');
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
