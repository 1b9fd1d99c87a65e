import { timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { Actor, Role } from '../../lib/domain/users/types.js';
import { AppError, forbidden, unauthorized } from '../../lib/errors.js';

const RANK: Readonly<Record<Role, number>> = { viewer: 1, reviewer: 2, admin: 3 };
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

const RANKS: ReadonlyMap<string, number> = new Map(Object.entries(RANK));
/** The rank of a role string; 0 for anything that is not a known role (nothing inherited from Object.prototype). */
const rankOf = (role: string): number => RANKS.get(role) ?? 0;

/** Requires a signed-in user with at least `role` (viewer < reviewer < admin); an unknown role is denied. */
export function requireRole(role: Role): RequestHandler {
  return (req, _res, next) => {
    const user = req.session?.user;
    if (!user) throw unauthorized();
    const have = rankOf(user.role);
    if (have === 0 || have < RANK[role]) throw forbidden(`this action needs the ${role} role`);
    next();
  };
}

/** Constant-time comparison of two tokens as bytes; any difference in length (or encoding) is a mismatch. */
function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return b.length > 0 && a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Synchronizer-token CSRF check for state-changing requests made with the session cookie: the
 * token issued at login (and by GET /api/auth/me) must come back in `X-CSRF-Token`. A malformed
 * token (wrong length, non-ASCII) is a 403 like any wrong one.
 */
export const requireCsrf: RequestHandler = (req, _res, next) => {
  if (SAFE.has(req.method) || !req.session?.user) return next();
  if (!sameToken(req.get('x-csrf-token') ?? '', req.session.csrfToken ?? '')) {
    throw new AppError(403, 'csrf_token_invalid', 'missing or invalid X-CSRF-Token header');
  }
  next();
};

export function actor(req: Request): Actor {
  const u = req.session.user;
  if (!u) throw unauthorized();
  return { id: u.id, email: u.email };
}

/** The signed-in user's role, for shaping responses (routes run behind requireRole). */
export function roleOf(req: Request): Role {
  const u = req.session.user;
  if (!u) throw unauthorized();
  return u.role;
}
