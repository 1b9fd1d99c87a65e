import type { RequestHandler } from 'express';
import session from 'express-session';
import { MongoStore } from 'connect-mongo';
import type { ApiContext } from '../context.js';
import { CachedSessionStore } from './session-cache.js';
import { KeyWatch } from '../../lib/db/key-watch.js';
import type { ServerConfig } from '../../lib/config.js';
import { type AccessState, AccessStateCache, SESSIONS_COLLECTION } from '../../lib/domain/users/sessions.js';
import type { Role } from '../../lib/domain/users/types.js';

declare module 'express-session' {
  interface SessionData {
    /** `epoch`: the user's session epoch at login; a later role change, disable or revocation ends the session. */
    user: { id: string; email: string; role: Role; epoch?: number };
    csrfToken: string;
    createdAt: number;
  }
}

/**
 * The session cookie's name: `__Host-creditdesk.sid` in production (the browser then insists on
 * Secure, Path=/ and no Domain, so no subdomain or plain-HTTP page can set or shadow it), the plain
 * `creditdesk.sid` elsewhere so local `npm start` over plain HTTP keeps working.
 */
export const sessionCookieName = (cfg: Pick<ServerConfig, 'NODE_ENV'>) =>
  cfg.NODE_ENV === 'production' ? '__Host-creditdesk.sid' : 'creditdesk.sid';

/** The instance's two session caches, each evicted by its own change stream; `close` stops both streams. */
export interface Sessions {
  /** The session store (express-session's). */
  store: CachedSessionStore;
  /** Users' current role, disabled flag and session epoch, checked on every request. */
  access: AccessStateCache;
  close(): Promise<void>;
}

/**
 * The instance's sessions: connect-mongo on the process's one MongoClient (collection `sessions`;
 * the TTL index is a migration) behind the per-instance cache of session-cache.ts, and the users'
 * access-state cache, evicted by a change stream on `users` (with it an entry may live as long as
 * a session entry, SESSION_CACHE_MS; without it USER_STATE_CACHE_MS). Idle timeout = the cookie's
 * maxAge; the store is written at most once per `touchAfter` for an unchanged session.
 */
export function sessionCaches(ctx: Pick<ApiContext, 'client' | 'db' | 'c' | 'log'>, cfg: ServerConfig): Sessions {
  const inner = MongoStore.create({
    client: ctx.client,
    dbName: cfg.MONGO_DB,
    collectionName: SESSIONS_COLLECTION,
    ttl: cfg.SESSION_IDLE_MINUTES * 60,
    touchAfter: cfg.SESSION_TOUCH_AFTER_SECONDS,
    autoRemove: 'disabled',
    stringify: false,
  });
  const store = new CachedSessionStore(inner, ctx.db.collection<{ _id: string }>(SESSIONS_COLLECTION), ctx.log, {
    maxAgeMs: cfg.SESSION_CACHE_MS,
    touchAfterMs: cfg.SESSION_TOUCH_AFTER_SECONDS * 1000,
  });
  const users = cfg.SESSION_CACHE_MS > 0 ? new KeyWatch(ctx.c.users, ctx.log, { label: 'user access cache' }).start() : undefined;
  const access = new AccessStateCache(ctx.c, cfg.USER_STATE_CACHE_MS, {
    ...(users ? { watch: users } : {}),
    watchedTtlMs: cfg.SESSION_CACHE_MS,
  });
  return { store, access, close: async () => void (await Promise.all([store.close(), users?.close()])) };
}

/**
 * Sessions in MongoDB (collection `sessions`) through the process's one MongoClient, so any
 * instance serves any session and restarts lose nothing. Idle timeout = cookie maxAge, renewed on
 * activity (`rolling`); the store is written at most once per `touchAfter` for an unchanged
 * session; the absolute timeout is enforced by `enforceAbsoluteTimeout`.
 *
 * Cookie: HttpOnly; SameSite=Strict (the ops page and the API are one origin, and nothing links
 * into the API from other sites); Secure whenever the request came over TLS (`auto`, with the proxy's
 * X-Forwarded-Proto trusted for TRUST_PROXY_HOPS), and always in production, where the `__Host-`
 * name requires it (a production instance reached over plain HTTP sets no cookie).
 *
 * After the session is loaded, the signed-in user's current access state is checked (see
 * `checkCurrentUser`), so this one middleware is all app.ts mounts.
 */
export function sessionMiddleware(ctx: Pick<ApiContext, 'sessions'>, cfg: ServerConfig): RequestHandler {
  const idleMs = cfg.SESSION_IDLE_MINUTES * 60_000;
  const production = cfg.NODE_ENV === 'production';
  const load = session({
    name: sessionCookieName(cfg),
    secret: cfg.SESSION_SECRETS,
    store: ctx.sessions.store,
    resave: false,
    saveUninitialized: false,
    rolling: true,
    proxy: cfg.TRUST_PROXY_HOPS > 0,
    cookie: { httpOnly: true, sameSite: 'strict', secure: production ? true : 'auto', maxAge: idleMs, path: '/' },
  });
  const check = checkCurrentUser(ctx.sessions.access);
  return (req, res, next) => load(req, res, (err?: unknown) => (err ? next(err) : check(req, res, next)));
}

/**
 * Ends the request's session when its user no longer exists, is disabled, has another role than
 * the session says, or has had its session epoch moved on (password change, "log out everywhere")
 * — as seen through the per-instance cache, so within USER_STATE_CACHE_MS of the change. A session
 * that does not match the cached state is checked against the database before it is ended (a new
 * login after a role change is newer than the cache).
 */
export function checkCurrentUser(cache: AccessStateCache): RequestHandler {
  return async (req, _res, next) => {
    const user = req.session?.user;
    if (!user) return next();
    const current = (s: AccessState | null) => s !== null && !s.disabled && s.role === user.role && s.epoch === (user.epoch ?? 0);
    // A mismatch is checked once more against the database: the session may be newer than the cache.
    if (current(await cache.get(user.id)) || current(await cache.get(user.id, true))) return next();
    req.session.destroy((err: unknown) => next(err));
  };
}

export function enforceAbsoluteTimeout(cfg: ServerConfig): RequestHandler {
  const maxAge = cfg.SESSION_ABSOLUTE_HOURS * 3_600_000;
  return (req, _res, next) => {
    const created = req.session?.createdAt;
    if (created && Date.now() - created > maxAge) return req.session.destroy(() => next());
    next();
  };
}
