// Partner administration (admin role, session + CSRF): partners, their API keys (returned once),
// revocation. Rotation is issuing a second key, moving the partner to it, then revoking the first.
import { Router, type Request } from 'express';
import { z } from 'zod';
import { createPartner, issueKey, listPartners, newPartnerInput, revokeKey } from '../../lib/domain/partners/partners.js';
import { AppError } from '../../lib/errors.js';
import type { ApiContext } from '../context.js';
import { actor, requireRole } from '../middleware/auth.js';
import { body, parse } from '../middleware/validate.js';

const objectId = z.string().regex(/^[0-9a-f]{24}$/, 'must be a 24-character hex id');
const partnerParams = z.strictObject({ id: objectId });
const keyParams = z.strictObject({ id: objectId, keyId: objectId });

export function partnerRoutes(d: ApiContext): Router {
  const r = Router();
  const meta = (req: Request) => ({ actor: actor(req), requestId: String(req.id) });
  r.use(requireRole('admin'));
  r.get('/', async (_req, res) => {
    res.json({ items: await listPartners(d.c) });
  });
  r.post('/', async (req, res) => {
    res.status(201).json(await createPartner(d.c, body(req, newPartnerInput), meta(req)));
  });
  r.post('/:id/keys', async (req, res) => {
    const { id } = parse(partnerParams, req.params, 'params');
    body(req, z.strictObject({}), { optional: true });
    const secret = d.cfg.PARTNER_KEY_SECRET?.[0];
    if (!secret) throw new AppError(503, 'partner_intake_unavailable', 'partner intake is not configured');
    res.setHeader('Cache-Control', 'no-store');
    res.status(201).json(await issueKey(d.c, id, secret, meta(req)));
  });
  r.post('/:id/keys/:keyId/revoke', async (req, res) => {
    const { id, keyId } = parse(keyParams, req.params, 'params');
    body(req, z.strictObject({}), { optional: true });
    res.json(await revokeKey(d.c, id, keyId, meta(req)));
  });
  return r;
}
