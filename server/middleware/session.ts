import type { RequestHandler } from 'express';
import session from 'express-session';
import { MongoStore } from 'connect-mongo';
import type { MongoClient } from 'mongodb';
import type { ServerConfig } from '../../lib/config.js';
import type { Role } from '../../lib/domain/users/types.js';

declare module 'express-session' {
  interface SessionData {
    user: { id: string; email: string; role: Role };
    csrfToken: string;
    createdAt: number;
  }
}

export const SESSION_COOKIE = 'creditdesk.sid';

/**
 * Sessions in MongoDB (collection `sessions`) through the process's one MongoClient, so any
 * instance serves any session and restarts lose nothing. Idle timeout = cookie maxAge, renewed on
 * activity (`rolling`); the store is written at most once per `touchAfter` for an unchanged
 * session; the absolute timeout is enforced by `enforceAbsoluteTimeout`.
 */
export function sessionMiddleware(client: MongoClient, cfg: ServerConfig): RequestHandler {
  const idleMs = cfg.SESSION_IDLE_MINUTES * 60_000;
  return session({
    name: SESSION_COOKIE,
    secret: cfg.SESSION_SECRETS,
    store: MongoStore.create({
      client,
      dbName: cfg.MONGO_DB,
      collectionName: 'sessions',
      ttl: idleMs / 1000,
      touchAfter: cfg.SESSION_TOUCH_AFTER_SECONDS,
      autoRemove: 'disabled',
      stringify: false,
    }),
    resave: false,
    saveUninitialized: false,
    rolling: true,
    proxy: cfg.TRUST_PROXY_HOPS > 0,
    cookie: { httpOnly: true, sameSite: 'lax', secure: 'auto', maxAge: idleMs, path: '/' },
  });
}

export function enforceAbsoluteTimeout(cfg: ServerConfig): RequestHandler {
  const maxAge = cfg.SESSION_ABSOLUTE_HOURS * 3_600_000;
  return (req, _res, next) => {
    const created = req.session?.createdAt;
    if (created && Date.now() - created > maxAge) return req.session.destroy(() => next());
    next();
  };
}
