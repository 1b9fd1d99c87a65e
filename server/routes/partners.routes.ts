// Partner administration (admin role, session + CSRF): partners, their API keys (returned once),
// revocation. Rotation is issuing a second key, moving the partner to it, then revoking the first.
import { Router, type Request } from 'express';
import { z } from 'zod';
import { createPartner, issueKey, listPartners, newPartnerInput, revokeKey } from '../../lib/domain/partners/partners.js';
import { AppError } from '../../lib/errors.js';
import type { ApiContext } from '../context.js';
import { actor } from '../middleware/auth.js';
import { routes } from '../openapi/operation.js';
import { partnerKeyView, partnerView } from '../openapi/schemas.js';

const objectId = z.string().regex(/^[0-9a-f]{24}$/, 'must be a 24-character hex id');
const partnerParams = z.strictObject({ id: objectId });
const keyParams = z.strictObject({ id: objectId, keyId: objectId });
const common = { tags: ['partners'], security: 'session', role: 'admin' } as const;
const noBody = { body: z.strictObject({}), bodyOptional: true } as const;

export function partnerRoutes(d: ApiContext): Router {
  const r = Router();
  const t = routes(r);
  const meta = (req: Request) => ({ actor: actor(req), requestId: String(req.id) });
  t.get(
    '/',
    {
      ...common,
      summary: 'List partners with their keys (hints only, never a key or its hash)',
      responses: {
        200: { description: 'every partner', schema: z.object({ items: z.array(partnerView.extend({ keys: z.array(partnerKeyView) })) }) },
      },
    },
    async (_i, _req, res) => {
      res.json({ items: await listPartners(d.c) });
    },
  );
  t.post(
    '/',
    {
      ...common,
      summary: 'Create a partner with its rate limit (requests per second, shared by every instance)',
      body: newPartnerInput,
      example: { name: 'Broker A', rateLimitPerSecond: 100 },
      responses: { 201: { description: 'the partner', schema: partnerView } },
    },
    async ({ body }, req, res) => {
      res.status(201).json(await createPartner(d.c, body, meta(req)));
    },
  );
  t.post(
    '/:id/keys',
    {
      ...common,
      summary: 'Issue an API key: shown once in this answer, stored only as an HMAC',
      params: partnerParams,
      ...noBody,
      responses: {
        201: { description: 'the key (Cache-Control: no-store)', schema: partnerKeyView.extend({ key: z.string().regex(/^cdk_live_/) }) },
        404: { description: 'no such partner' },
        503: { description: 'partner intake is not configured (PARTNER_KEY_SECRET)' },
      },
    },
    async ({ params }, req, res) => {
      const secret = d.cfg.PARTNER_KEY_SECRET?.[0];
      if (!secret) throw new AppError(503, 'partner_intake_unavailable', 'partner intake is not configured');
      res.setHeader('Cache-Control', 'no-store');
      res.status(201).json(await issueKey(d.c, params.id, secret, meta(req)));
    },
  );
  t.post(
    '/:id/keys/:keyId/revoke',
    {
      ...common,
      summary: 'Revoke a key: refused by every instance within PARTNER_KEY_CACHE_MS (≤ 1 s)',
      params: keyParams,
      ...noBody,
      responses: { 200: { description: 'the key, revoked', schema: partnerKeyView }, 404: { description: 'no such key of this partner' } },
    },
    async ({ params }, req, res) => {
      res.json(await revokeKey(d.c, params.id, params.keyId, meta(req)));
    },
  );
  return r;
}
