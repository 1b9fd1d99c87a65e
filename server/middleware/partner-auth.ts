// Partner routes authenticate with `Authorization: Bearer <key>` and nothing else (no session, no
// CSRF). A malformed key is refused by its checksum before any database read; without
// PARTNER_KEY_SECRET the partner routes answer 503.
import type { RequestHandler, Response } from 'express';
import type { Authenticate } from '../../lib/domain/partners/authenticate.js';
import type { PartnerPrincipal } from '../../lib/domain/partners/types.js';
import { AppError, unauthorized } from '../../lib/errors.js';

const BEARER = /^Bearer ([\x21-\x7e]{1,200})$/;
/** The partner each authenticated response belongs to (typed, and gone with the response). */
const partners = new WeakMap<Response, PartnerPrincipal>();

export function requirePartnerKey(authenticate: Authenticate | undefined): RequestHandler {
  return async (req, res, next) => {
    if (!authenticate) throw new AppError(503, 'partner_intake_unavailable', 'partner intake is not configured');
    const m = BEARER.exec(req.get('authorization') ?? '');
    const partner = m ? await authenticate(m[1]!) : null;
    if (!partner) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="creditdesk"');
      throw unauthorized('a valid partner API key is required (Authorization: Bearer cdk_live_…)');
    }
    partners.set(res, partner);
    next();
  };
}

/** The partner requirePartnerKey authenticated for this request. */
export function partnerOf(res: Response): PartnerPrincipal {
  const p = partners.get(res);
  if (!p) throw unauthorized();
  return p;
}
