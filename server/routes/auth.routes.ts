import { randomBytes } from 'node:crypto';
import { Router, type Request } from 'express';
import { z } from 'zod';
import { unauthorized } from '../../lib/errors.js';
import { assertLoginAllowed, clearAccountFailures, recordLoginFailure } from '../../lib/domain/users/login-throttle.js';
import { verifyCredentials } from '../../lib/domain/users/users.js';
import type { ApiContext } from '../context.js';
import { parse } from '../middleware/validate.js';
import { SESSION_COOKIE } from '../middleware/session.js';

const loginBody = z.strictObject({ email: z.string().min(1).max(254), password: z.string().min(1).max(256) });

const regenerate = (req: Request) => new Promise<void>((res, rej) => req.session.regenerate((e) => (e ? rej(e) : res())));
const save = (req: Request) => new Promise<void>((res, rej) => req.session.save((e) => (e ? rej(e) : res())));
const destroy = (req: Request) => new Promise<void>((res, rej) => req.session.destroy((e) => (e ? rej(e) : res())));

export function authRoutes(d: ApiContext): Router {
  const r = Router();
  const limits = {
    windowMs: d.cfg.LOGIN_WINDOW_MINUTES * 60_000,
    perAccount: d.cfg.LOGIN_MAX_FAILURES_PER_ACCOUNT,
    perIp: d.cfg.LOGIN_MAX_FAILURES_PER_IP,
  };

  r.post('/login', async (req, res) => {
    const { email, password } = parse(loginBody, req.body, 'body');
    const ip = req.ip ?? 'unknown';
    await assertLoginAllowed(d.c, email, ip, limits);
    const user = await verifyCredentials(d.c, email, password);
    if (!user) {
      await recordLoginFailure(d.c, email, ip, limits);
      throw unauthorized('invalid email or password');
    }
    await clearAccountFailures(d.c, email);
    await regenerate(req); // a fresh session id on every login (no fixation)
    req.session.user = { id: user.id, email: user.email, role: user.role };
    req.session.csrfToken = randomBytes(32).toString('base64url');
    req.session.createdAt = Date.now();
    await save(req);
    req.log.info({ userId: user.id }, 'login');
    res.json({ user, csrfToken: req.session.csrfToken });
  });

  r.post('/logout', async (req, res) => {
    if (req.session?.user) await destroy(req);
    res.clearCookie(SESSION_COOKIE, { path: '/' });
    res.status(204).end();
  });

  r.get('/me', (req, res) => {
    if (!req.session?.user) throw unauthorized();
    res.json({ user: req.session.user, csrfToken: req.session.csrfToken });
  });
  return r;
}
