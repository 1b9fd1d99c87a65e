import { timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { Actor, Role } from '../../lib/domain/users/types.js';
import { AppError, forbidden, unauthorized } from '../../lib/errors.js';

const RANK: Record<Role, number> = { viewer: 1, reviewer: 2, admin: 3 };
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Requires a signed-in user with at least `role` (viewer < reviewer < admin). */
export function requireRole(role: Role): RequestHandler {
  return (req, _res, next) => {
    const user = req.session?.user;
    if (!user) throw unauthorized();
    if (RANK[user.role] < RANK[role]) throw forbidden(`this action needs the ${role} role`);
    next();
  };
}

/**
 * Synchronizer-token CSRF check for state-changing requests made with the session cookie: the
 * token issued at login (and by GET /api/auth/me) must come back in `X-CSRF-Token`.
 */
export const requireCsrf: RequestHandler = (req, _res, next) => {
  if (SAFE.has(req.method) || !req.session?.user) return next();
  const expected = req.session.csrfToken ?? '';
  const given = req.get('x-csrf-token') ?? '';
  const ok = expected.length > 0 && given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
  if (!ok) throw new AppError(403, 'csrf_token_invalid', 'missing or invalid X-CSRF-Token header');
  next();
};

export function actor(req: Request): Actor {
  const u = req.session.user;
  if (!u) throw unauthorized();
  return { id: u.id, email: u.email };
}
