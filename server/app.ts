// Builds the Express app from its dependencies. Never listens: main.ts does, tests may.
import express, { type Express } from 'express';
import helmet from 'helmet';
import { uploadSlots } from '../lib/domain/documents/upload-slots.js';
import { IntakePauseCache } from '../lib/domain/intake/controls.js';
import { partnerAuthenticator } from '../lib/domain/partners/authenticate.js';
import { LeasedLimiter } from '../lib/limits/leased-limiter.js';
import type { ApiContext } from './context.js';
import { requireCsrf } from './middleware/auth.js';
import { requireParsedBodyType } from './middleware/content-type.js';
import { errorHandler, notFoundHandler } from './middleware/error-handler.js';
import { createMetrics, internalNetworks } from './middleware/metrics.js';
import { loadShedding } from './middleware/load-shedding.js';
import { refuseWhilePaused } from './middleware/intake-pause.js';
import { recordIntakeErrors } from './middleware/record-intake-errors.js';
import { requirePartnerKey } from './middleware/partner-auth.js';
import { partnerRateLimit } from './middleware/partner-rate-limit.js';
import { requestContext } from './middleware/request-context.js';
import { statusEventRoutes } from './routes/status-events.routes.js';
import { enforceAbsoluteTimeout, sessionMiddleware } from './middleware/session.js';
import { adminRoutes } from './routes/admin.routes.js';
import { applicationRoutes } from './routes/applications.routes.js';
import { authRoutes } from './routes/auth.routes.js';
import { routes } from './openapi/operation.js';
import { docsRoutes } from './routes/docs.routes.js';
import { documentRoutes } from './routes/documents.routes.js';
import { errorLogRoutes } from './routes/error-log.routes.js';
import { healthRoutes } from './routes/health.routes.js';
import { intakeRoutes } from './routes/intake.routes.js';
import { opsRoutes } from './routes/ops.routes.js';
import { partnerRoutes } from './routes/partners.routes.js';
import { reconciliationRoutes } from './routes/reconciliation.routes.js';
import { userRoutes } from './routes/users.routes.js';
import { vendorRoutes } from './routes/vendors.routes.js';
import { webhookRoutes } from './routes/webhooks.routes.js';

export function createApp(d: ApiContext): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', d.cfg.TRUST_PROXY_HOPS);
  app.set('query parser', 'simple'); // flat strings only: no ?a[$gt]= objects
  // No ETag on API answers: nothing revalidates them (updates are versioned), and it is a SHA-1 of
  // every body. The console's static files keep theirs (express.static has its own).
  app.set('etag', false);

  // /metrics and /health details answer only straight from INTERNAL_NETWORKS (never through nginx).
  const internal = internalNetworks(d.cfg.INTERNAL_NETWORKS);
  const uploads = uploadSlots({ max: d.cfg.UPLOADS_IN_FLIGHT_MAX, perUser: d.cfg.UPLOADS_IN_FLIGHT_PER_USER });
  const metrics = createMetrics(internal, {
    uploadsInFlight: () => uploads.inFlight(),
    mongo: d.client,
    sseConnections: () => d.statusChanges.counts(),
    sessionCache: () => d.sessions.store.counts,
  });
  // First: an overloaded instance answers 503 + Retry-After before any other work (ADR 0028).
  const shedding = loadShedding(d.cfg, d.log, metrics.registry);
  app.use(shedding.middleware);
  app.use(requestContext(d.log));
  // No upgrade-insecure-requests: TLS ends at the proxy, and plain-HTTP dev would break the ops page.
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }));
  app.use(healthRoutes(d, internal));
  if (d.cfg.METRICS_ENABLED) {
    app.use(metrics.observe);
    routes(app).get(
      '/metrics',
      {
        summary: 'Prometheus metrics of this instance (only straight from INTERNAL_NETWORKS; 404 otherwise and through nginx)',
        tags: ['health'],
        security: 'internal',
        responses: {
          200: { description: 'the exposition format', contentType: 'text/plain; version=0.0.4' },
          404: { description: 'not from an internal network' },
        },
      },
      async (_i, req, res) => {
        await metrics.expose(req, res, () => undefined);
      },
    );
  }

  // The API's description (public): GET /api/openapi.json, GET /api/docs/ (generated from this app's routes).
  app.use(
    '/api',
    docsRoutes(() => app),
  );

  const ops = opsRoutes(d);
  app.use(ops.page);

  // Partner routes: their own router before the session middleware; Bearer key only (no session, no CSRF).
  const secrets = d.cfg.PARTNER_KEY_SECRET;
  const partnerApi = express.Router();
  partnerApi.use(requirePartnerKey(secrets ? partnerAuthenticator(d.c, secrets, d.cfg.PARTNER_KEY_CACHE_MS) : undefined));
  // Intake pause: re-read in the background (unref'd timer), so it costs no read per request.
  const pause = new IntakePauseCache(d.db, d.cfg.INTAKE_PAUSE_REFRESH_MS, (err) => {
    if (!d.lifecycle.draining) d.log.warn({ err }, 'reading the intake pause failed');
  });
  void pause.start();
  partnerApi.post('/request', refuseWhilePaused(pause));
  const limiter = new LeasedLimiter(d.db, {
    leaseFraction: d.cfg.PARTNER_RATE_LEASE_FRACTION,
    burstLeases: d.cfg.PARTNER_RATE_BURST_LEASES,
    leaseTtlMs: d.cfg.PARTNER_RATE_LEASE_TTL_MS,
  });
  partnerApi.use(partnerRateLimit(limiter));
  partnerApi.use(express.json({ limit: d.cfg.BODY_LIMIT_BYTES, strict: true }), requireParsedBodyType);
  const statusEvents = statusEventRoutes(d); // SSE: /request/:id/events, /requests/events (before /request/:id)
  partnerApi.use(statusEvents.partner);
  partnerApi.use('/request', intakeRoutes(d, uploads));
  partnerApi.use(recordIntakeErrors(d)); // error path only: records a refused loan request, passes the error on unchanged
  app.use('/api/loan', partnerApi);

  // Vendor webhooks: raw body, signature verified before any parsing; before the JSON body parser of /api.
  app.use('/api/webhooks', webhookRoutes(d));

  const api = express.Router();
  api.use(express.json({ limit: d.cfg.BODY_LIMIT_BYTES, strict: true }));
  api.use(requireParsedBodyType); // 415 for a body the route would not parse (server/middleware/content-type.ts)
  api.use(sessionMiddleware(d, d.cfg), enforceAbsoluteTimeout(d.cfg), requireCsrf);
  api.use('/auth', authRoutes(d, shedding));
  api.use('/applications', applicationRoutes(d));
  api.use('/applications', documentRoutes(d, uploads));
  api.use('/applications', statusEvents.admin); // SSE: GET /api/applications/:id/events
  api.use('/users', userRoutes(d));
  api.use('/partners', partnerRoutes(d));
  api.use('/admin', ops.stream, adminRoutes(d));
  api.use('/admin', reconciliationRoutes(d)); // GET /api/admin/reconciliation
  api.use('/admin/vendors', vendorRoutes(d)); // vendors' breakers: GET /api/admin/vendors, POST …/:vendor/breaker
  api.use('/loans', errorLogRoutes(d));
  app.use('/api', api);

  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
