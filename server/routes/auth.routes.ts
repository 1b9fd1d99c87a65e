import { randomBytes } from 'node:crypto';
import { type Request, type RequestHandler, Router } from 'express';
import { z } from 'zod';
import { AppError, badRequest, unauthorized } from '../../lib/errors.js';
import { changeOwnPassword, changePasswordInput } from '../../lib/domain/users/account-changes.js';
import { recordLoginFailure, recordLoginSuccess, reserveLoginAttempt, type ThrottleLimits } from '../../lib/domain/users/login-throttle.js';
import { type UserView, verifyCredentials } from '../../lib/domain/users/users.js';
import type { ApiContext } from '../context.js';
import type { LoadShedding } from '../middleware/load-shedding.js';
import { actor } from '../middleware/auth.js';
import { sessionCookieName } from '../middleware/session.js';
import { routes } from '../openapi/operation.js';
import { signedIn } from '../openapi/schemas.js';

const tags = ['auth'];
const loginBody = z.strictObject({ email: z.string().min(1).max(254), password: z.string().min(1).max(256) });

const regenerate = (req: Request) => new Promise<void>((res, rej) => req.session.regenerate((e) => (e ? rej(e) : res())));
const save = (req: Request) => new Promise<void>((res, rej) => req.session.save((e) => (e ? rej(e) : res())));
const destroy = (req: Request) => new Promise<void>((res, rej) => req.session.destroy((e) => (e ? rej(e) : res())));

/** A fresh session (new id: no fixation) for `user` made in session epoch `epoch`; returns its CSRF token. */
async function startSession(req: Request, user: Pick<UserView, 'id' | 'email' | 'role'>, epoch: number): Promise<string> {
  await regenerate(req);
  req.session.user = { id: user.id, email: user.email, role: user.role, epoch };
  req.session.csrfToken = randomBytes(32).toString('base64url');
  req.session.createdAt = Date.now();
  await save(req);
  return req.session.csrfToken;
}

/** `gate` bounds the argon2 verifications running at once on this instance (503 + Retry-After beyond, ADR 0028). */
export function authRoutes(d: ApiContext, gate: Pick<LoadShedding, 'verify'>): Router {
  const r = Router();
  const t = routes(r);
  const limits: ThrottleLimits = {
    windowMs: d.cfg.LOGIN_WINDOW_MINUTES * 60_000,
    perAccount: d.cfg.LOGIN_MAX_FAILURES_PER_ACCOUNT,
    perIp: d.cfg.LOGIN_MAX_FAILURES_PER_IP,
    inflightPerAccount: d.cfg.LOGIN_MAX_INFLIGHT_PER_ACCOUNT,
    delayBaseMs: d.cfg.LOGIN_DELAY_BASE_MS,
    delayCapMs: d.cfg.LOGIN_DELAY_CAP_MS,
  };
  const cookieName = sessionCookieName(d.cfg);
  // In production the session cookie is `__Host-` and Secure: a browser would drop it over plain
  // HTTP, so signing in there is refused outright rather than "succeeding" without a session.
  const overTls: RequestHandler = (req, _res, next) => {
    if (d.cfg.NODE_ENV === 'production' && !req.secure)
      throw new AppError(403, 'https_required', 'sign in over HTTPS (behind a proxy: X-Forwarded-Proto and TRUST_PROXY_HOPS)');
    next();
  };
  r.use(['/login', '/password'], overTls);

  /**
   * A password check: in a verification slot of this instance first (503 + Retry-After when they
   * are all busy: nothing written), then under the throttle's reservation (429 when over a limit);
   * a check that throws counts as a failure for the account and the address, one that returns
   * clears them.
   */
  const throttledCheck = <T>(req: Request, email: string, check: () => Promise<T>): Promise<T> =>
    gate.verify(req, async () => {
      const reservation = await reserveLoginAttempt(d.c, email, req.ip ?? 'unknown', limits);
      const out = await check().catch(async (e: unknown) => {
        await recordLoginFailure(d.c, reservation, limits);
        throw e;
      });
      await recordLoginSuccess(d.c, reservation);
      return out;
    });

  t.post(
    '/login',
    {
      summary: 'Sign in: a fresh session cookie and the CSRF token for unsafe requests',
      tags,
      security: 'public',
      body: loginBody,
      example: { email: 'admin@example.com', password: 'correct horse battery' },
      responses: {
        200: { description: 'signed in (Set-Cookie)', schema: signedIn },
        401: { description: 'invalid email or password' },
        403: { description: 'production over plain HTTP' },
        429: { description: 'too many failures for the account or address (Retry-After)' },
        503: { description: 'every password-verification slot of the instance is busy, or the database is unavailable (Retry-After)' },
      },
    },
    async ({ body: { email, password } }, req, res) => {
      const verified = await throttledCheck(req, email, async () => {
        const v = await verifyCredentials(d.c, email, password);
        if (!v) throw unauthorized('invalid email or password');
        return v;
      });
      const csrfToken = await startSession(req, verified.user, verified.epoch);
      req.log.info({ userId: verified.user.id }, 'login');
      res.json({ user: verified.user, csrfToken });
    },
  );

  // Changing one's own password needs the current one (throttled like a login) and ends every
  // session of the user; the caller continues in a fresh session (new id and CSRF token).
  t.post(
    '/password',
    {
      summary: 'Change your own password (needs the current one); every session ends and you continue in a fresh one',
      tags,
      security: 'session',
      body: changePasswordInput,
      example: { currentPassword: 'correct horse battery', newPassword: 'staple battery horse correct' },
      responses: {
        200: { description: 'changed; a new session cookie and CSRF token', schema: signedIn },
        401: { description: 'not signed in, or the current password is wrong' },
        429: { description: 'too many failures (Retry-After)' },
      },
    },
    async ({ body: input }, req, res) => {
      const me = req.session?.user;
      if (!me) throw unauthorized();
      if (input.currentPassword === input.newPassword) throw badRequest('the new password must differ from the current one');
      // In a verification slot and counted by the throttle, like a login.
      const { epoch } = await throttledCheck(req, me.email, () =>
        changeOwnPassword(d, me.id, input, { actor: actor(req), requestId: String(req.id) }),
      );
      const csrfToken = await startSession(req, me, epoch);
      req.log.info({ userId: me.id }, 'password changed');
      res.json({ user: { id: me.id, email: me.email, role: me.role }, csrfToken });
    },
  );

  t.post(
    '/logout',
    {
      summary: 'Sign out (the session ends on every instance)',
      tags,
      security: 'public',
      responses: { 204: { description: 'signed out' } },
    },
    async (_i, req, res) => {
      if (req.session?.user) await destroy(req);
      res.clearCookie(cookieName, { path: '/' });
      res.status(204).end();
    },
  );

  t.get(
    '/me',
    {
      summary: 'Who is signed in, and the CSRF token',
      tags,
      security: 'session',
      responses: { 200: { description: 'the user', schema: signedIn } },
    },
    (_i, req, res) => {
      const u = req.session?.user;
      if (!u) throw unauthorized();
      res.json({ user: { id: u.id, email: u.email, role: u.role }, csrfToken: req.session.csrfToken });
    },
  );
  return r;
}
