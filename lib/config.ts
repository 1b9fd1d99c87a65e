// Every setting of the product's processes (API, workers, migrator, launcher) is read here: each
// process parses the part it needs, once, at start-up, and a bad or missing setting stops it with
// a message naming the variable. Nothing else in lib/, server/ or workers/ reads process.env; the
// development tools under scripts/ (mongod and nginx resolvers, test runner, benchmarks,
// simulators) read a few variables of their own, listed at the end of .env.example.
import { isIP } from 'node:net';
import { availableParallelism, hostname } from 'node:os';
import { z } from 'zod';
import { secretKey } from './webhooks/standard-webhooks.js';

/** An IP address, or an address with a prefix length (CIDR). */
const isNetwork = (v: string) => {
  const [addr = '', bits, ...rest] = v.split('/');
  const family = isIP(addr);
  if (family === 0 || rest.length > 0) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
};
const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0'])
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1');

/** An empty value means "not set" (an `.env` line such as `MONGO_URI=`). */
const unsetIfEmpty = (v: unknown) => (v === '' ? undefined : v);

export const baseSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  MONGO_URI: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://'),
  MONGO_DB: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,63}$/, 'letters, digits, _ and - only')
    .default('creditdesk'),
  INSTANCE_ID: z.string().min(1).default(`${hostname()}-${process.pid}`),
  SHUTDOWN_TIMEOUT_MS: int(10_000, 100),
  /** Error-log entries (API and workers write them) are deleted this many days after their last occurrence (TTL). */
  ERROR_LOG_RETENTION_DAYS: int(30, 1).pipe(z.number().max(3650)),
  /** OTLP/HTTP collector for traces (spans go to `<url>/v1/traces`); unset = no export (lib/tracing.ts). */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.preprocess(unsetIfEmpty, z.url({ protocol: /^https?$/ }).optional()),
  /** Appends one JSON line per span to this file (tests, local debugging); unset = none. */
  OTEL_TRACES_FILE: z.preprocess(unsetIfEmpty, z.string().optional()),
});

/**
 * The credit bureau (issue 10): how workers call it (shared rate limit, circuit breaker, timeouts,
 * retries) and how the API verifies its signed callbacks. The worker and server schemas spread
 * `bureauSchema.shape` and run `bureauChecks` (a spread shape loses the refinements).
 */
const whsecList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  )
  .pipe(
    z.array(
      z.string().refine((v) => {
        try {
          secretKey(v);
          return true;
        } catch {
          return false;
        }
      }, 'each secret must be whsec_<base64 of 24..64 bytes>'),
    ),
  );
const bureauShape = {
  BUREAU_URL: z.union([z.literal(''), z.url()]).default(''),
  BUREAU_MODE: z.enum(['sync', 'async']).default('sync'),
  BUREAU_RATE_PER_SECOND: z.coerce.number().positive().max(100_000).default(50),
  BUREAU_RATE_LEASE_FRACTION: z.coerce.number().min(0.01).max(1).default(0.1),
  BUREAU_RATE_BURST_LEASES: int(3, 1).pipe(z.number().max(64)),
  BUREAU_RATE_LEASE_TTL_MS: int(1000, 10).pipe(z.number().max(10_000)),
  BUREAU_TIMEOUT_MS: int(2000, 10),
  BUREAU_MAX_ATTEMPTS: int(3, 1).pipe(z.number().max(10)),
  BUREAU_BACKOFF_BASE_MS: int(100, 1),
  BUREAU_BACKOFF_CAP_MS: int(2000, 1),
  BUREAU_MAX_INLINE_WAIT_MS: int(1000, 0),
  BUREAU_RETRY_BUDGET_RATIO: z.coerce.number().min(0).max(1).default(0.2),
  BUREAU_RETRY_BUDGET_MIN: int(3, 0),
  BUREAU_BREAKER_WINDOW_BUCKETS: int(10, 1).pipe(z.number().max(60)),
  BUREAU_BREAKER_BUCKET_MS: int(1000, 10),
  BUREAU_BREAKER_MIN_CALLS: int(20, 1),
  BUREAU_BREAKER_FAILURE_RATIO: z.coerce.number().gt(0).max(1).default(0.5),
  BUREAU_BREAKER_COOL_DOWN_MS: int(5000, 10),
  BUREAU_BREAKER_PROBE_LEASE_MS: int(10_000, 10),
  BUREAU_BREAKER_CACHE_MS: int(250, 0).pipe(z.number().max(5000)),
  BUREAU_BREAKER_FLUSH_MS: int(100, 0).pipe(z.number().max(5000)),
  /** Verifying callbacks: comma-separated whsec_ secrets, all valid (two during a rotation). */
  BUREAU_WEBHOOK_SECRETS: z.preprocess(unsetIfEmpty, whsecList.optional()),
  BUREAU_WEBHOOK_TOLERANCE_SECONDS: int(300, 1).pipe(z.number().max(3600)),
  BUREAU_WEBHOOK_RECEIPT_TTL_HOURS: int(24, 1),
};

type BureauFields = z.output<z.ZodObject<typeof bureauShape>>;

/** The bureau settings' cross-field checks, for every schema that spreads the bureau shape. */
function bureauChecks(c: BureauFields, ctx: z.RefinementCtx): void {
  // A probe that outlives its lease would let a second process probe while it is in flight.
  if (c.BUREAU_BREAKER_PROBE_LEASE_MS <= c.BUREAU_TIMEOUT_MS)
    ctx.addIssue({
      code: 'custom',
      path: ['BUREAU_BREAKER_PROBE_LEASE_MS'],
      message: 'must be above BUREAU_TIMEOUT_MS (a probe must end within its lease)',
    });
  if (c.BUREAU_BACKOFF_CAP_MS < c.BUREAU_BACKOFF_BASE_MS)
    ctx.addIssue({ code: 'custom', path: ['BUREAU_BACKOFF_CAP_MS'], message: 'must be at least BUREAU_BACKOFF_BASE_MS' });
}

export const bureauSchema = z.object(bureauShape).superRefine(bureauChecks);

/**
 * The payment gateway through lib/vendors/call-vendor.ts, with the same settings as the bureau's
 * (bureauShape): one shape per vendor, PAYMENT_ in front. Workers call the gateway with them; the
 * API reads them too, to show and force the gateway's shared breaker (GET /api/admin/vendors).
 */
const paymentShape = {
  PAYMENT_TIMEOUT_MS: int(15_000, 100),
  PAYMENT_RATE_PER_SECOND: z.coerce.number().positive().max(100_000).default(50),
  PAYMENT_RATE_LEASE_FRACTION: z.coerce.number().min(0.01).max(1).default(0.1),
  PAYMENT_RATE_BURST_LEASES: int(3, 1).pipe(z.number().max(64)),
  PAYMENT_RATE_LEASE_TTL_MS: int(1000, 10).pipe(z.number().max(10_000)),
  PAYMENT_MAX_ATTEMPTS: int(3, 1).pipe(z.number().max(10)),
  PAYMENT_BACKOFF_BASE_MS: int(100, 1),
  PAYMENT_BACKOFF_CAP_MS: int(2000, 1),
  PAYMENT_MAX_INLINE_WAIT_MS: int(1000, 0),
  PAYMENT_RETRY_BUDGET_RATIO: z.coerce.number().min(0).max(1).default(0.2),
  PAYMENT_RETRY_BUDGET_MIN: int(3, 0),
  PAYMENT_BREAKER_WINDOW_BUCKETS: int(10, 1).pipe(z.number().max(60)),
  PAYMENT_BREAKER_BUCKET_MS: int(1000, 10),
  PAYMENT_BREAKER_MIN_CALLS: int(20, 1),
  PAYMENT_BREAKER_FAILURE_RATIO: z.coerce.number().gt(0).max(1).default(0.5),
  PAYMENT_BREAKER_COOL_DOWN_MS: int(5000, 10),
  PAYMENT_BREAKER_PROBE_LEASE_MS: int(30_000, 10),
  PAYMENT_BREAKER_CACHE_MS: int(250, 0).pipe(z.number().max(5000)),
  PAYMENT_BREAKER_FLUSH_MS: int(100, 0).pipe(z.number().max(5000)),
};

type PaymentFields = z.output<z.ZodObject<typeof paymentShape>>;
export type PaymentConfig = PaymentFields;

/** The payment settings' cross-field checks, for every schema that spreads the payment shape. */
function paymentChecks(c: PaymentFields, ctx: z.RefinementCtx): void {
  // A probe that outlives its lease would let a second process probe while it is in flight.
  if (c.PAYMENT_BREAKER_PROBE_LEASE_MS <= c.PAYMENT_TIMEOUT_MS)
    ctx.addIssue({
      code: 'custom',
      path: ['PAYMENT_BREAKER_PROBE_LEASE_MS'],
      message: 'must be above PAYMENT_TIMEOUT_MS (a probe must end within its lease)',
    });
  if (c.PAYMENT_BACKOFF_CAP_MS < c.PAYMENT_BACKOFF_BASE_MS)
    ctx.addIssue({ code: 'custom', path: ['PAYMENT_BACKOFF_CAP_MS'], message: 'must be at least PAYMENT_BACKOFF_BASE_MS' });
}

const serverFields = baseSchema.extend({
  ...bureauShape,
  ...paymentShape,
  HOST: z.string().default('127.0.0.1'),
  PORT: int(3000, 0).pipe(z.number().max(65535)), // 0: any free port (tests)
  SESSION_SECRETS: z
    .string({ error: 'is required: one or more comma-separated secrets of at least 32 characters (the first signs new cookies)' })
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().min(32, 'each secret needs at least 32 characters')).min(1)),
  /**
   * Partner API keys are stored as HMAC-SHA-256(key, secret): comma-separated secrets of at least 32
   * characters, the first hashes new keys (older ones still verify keys issued under them). Unset:
   * the partner routes answer 503.
   */
  PARTNER_KEY_SECRET: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z
      .string()
      .transform((s) =>
        s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.string().min(32, 'each secret needs at least 32 characters')).min(1))
      .optional(),
  ),
  /** How long an instance may trust a partner key's verdict (valid / revoked); a revocation takes effect within this. */
  PARTNER_KEY_CACHE_MS: int(1000, 0).pipe(z.number().max(1000)),
  /** A partner's rate is shared by every instance; each leases this fraction of it (≥ 1 token) at a time. */
  PARTNER_RATE_LEASE_FRACTION: z.coerce.number().min(0.01).max(1).default(0.1),
  /** The partner bucket's burst in leases: set it to the number of API instances (each may hold one lease). */
  PARTNER_RATE_BURST_LEASES: int(3, 1).pipe(z.number().max(32)),
  /** How long an instance may spend a lease's tokens; unspent ones are dropped after it. */
  PARTNER_RATE_LEASE_TTL_MS: int(1000, 10).pipe(z.number().max(10_000)),
  /** How often each instance re-reads the intake pause (≤ 500 ms: a pause is obeyed within 1 s). */
  INTAKE_PAUSE_REFRESH_MS: int(500, 50).pipe(z.number().max(500)),
  /** Group commit of partner intake: most requests in one transaction, and most transactions at once per instance. */
  INTAKE_BATCH_MAX: int(64, 1).pipe(z.number().max(1000)),
  INTAKE_COMMIT_CONCURRENCY: int(2, 1).pipe(z.number().max(64)),
  // OWASP session guidance for an admin app: idle 15–30 min, absolute 4–8 h.
  SESSION_IDLE_MINUTES: int(30, 15).pipe(z.number().max(30)),
  SESSION_ABSOLUTE_HOURS: int(8, 4).pipe(z.number().max(8)),
  /** How long an instance may use a user's cached role / disabled / session epoch (0 = read every request). */
  USER_STATE_CACHE_MS: int(2000, 0).pipe(z.number().max(10_000)),
  SESSION_TOUCH_AFTER_SECONDS: int(60, 0),
  /** Per-instance session cache, evicted by a change stream on `sessions`; 0 reads every session from MongoDB. */
  SESSION_CACHE_MS: int(60_000, 0).pipe(z.number().max(300_000)),
  TRUST_PROXY_HOPS: int(1, 0),
  BODY_LIMIT_BYTES: int(128 * 1024, 1024),
  UPLOAD_LIMIT_BYTES: int(10 * 1024 * 1024, 1024),
  LOGIN_WINDOW_MINUTES: int(15, 1),
  LOGIN_MAX_FAILURES_PER_ACCOUNT: int(5, 1),
  LOGIN_MAX_FAILURES_PER_IP: int(50, 1),
  LOGIN_MAX_INFLIGHT_PER_ACCOUNT: int(2, 1),
  LOGIN_DELAY_BASE_MS: int(1000, 0),
  LOGIN_DELAY_CAP_MS: int(60_000, 0),
  /**
   * Logins and password changes verifying a password at once on this instance (ADR 0028): 2 × cores,
   * at most 4 (argon2 runs on libuv's pool of 4 threads; more would only queue there, unbounded).
   */
  LOGIN_MAX_CONCURRENT_VERIFICATIONS: int(Math.min(2 * availableParallelism(), 4), 1).pipe(z.number().max(256)),
  /** Logins that may wait for a slot, each at most LOGIN_VERIFY_WAIT_MS; beyond either, 503 + Retry-After (never a time-out). */
  LOGIN_VERIFY_QUEUE_MAX: int(100, 0).pipe(z.number().max(10_000)),
  LOGIN_VERIFY_WAIT_MS: int(3000, 0).pipe(z.number().max(10_000)),
  /** Nice value of the libuv pool threads (argon2 verifications): above the event loop's 0 so a burst of sign-ins cannot starve it (0 = unchanged). */
  THREADPOOL_NICE: int(10, 0).pipe(z.number().max(19)),
  /** Load shedding (server/middleware/load-shedding.ts, ADR 0028): 503 + Retry-After while the instance is overloaded. */
  LOAD_SHED_ENABLED: bool(true),
  /** Smoothed event-loop lag above which the instance counts as overloaded… */
  LOAD_SHED_LAG_MS: int(250, 1).pipe(z.number().max(60_000)),
  /** …once it stayed above it this long (it stops shedding when the lag falls below half the threshold). */
  LOAD_SHED_MIN_OVERLOAD_MS: int(1500, 0).pipe(z.number().max(60_000)),
  /** While the lag says overloaded, requests are still let in up to this many in flight on the instance (a lone slow tick never sheds). */
  LOAD_SHED_MIN_IN_FLIGHT: int(32, 0).pipe(z.number().max(100_000)),
  /** A request that waited this long between nginx (X-Request-Start) and this instance is shed on its own. */
  LOAD_SHED_QUEUE_MS: int(2000, 1).pipe(z.number().max(60_000)),
  /** The Retry-After (seconds) of a shed answer. */
  LOAD_SHED_RETRY_AFTER_S: int(2, 1).pipe(z.number().max(60)),
  PAGE_LIMIT_MAX: int(100, 1),
  LIST_TOTAL_CACHE_MS: int(1000, 0),
  BATCH_UPDATE_MAX: int(500, 1),
  /** Approvals of amounts above this need two different people (approval-policy.ts). */
  DUAL_APPROVAL_ABOVE: int(100_000, 0),
  KEEP_ALIVE_TIMEOUT_MS: int(75_000, 1000),
  METRICS_ENABLED: bool(true),
  /**
   * The ops console's time series: each instance writes its per-second counters to metrics_buckets
   * (one bulkWrite a second). Unset: on, except with NODE_ENV=test (background writes would show in
   * the tests' "nothing was written" database snapshots; the console's own tests turn it on).
   */
  CONSOLE_SERIES_ENABLED: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z
      .enum(['true', 'false', '1', '0'])
      .transform((v) => v === 'true' || v === '1')
      .optional(),
  ),
  /** Peers (CIDR or address) that may read /metrics and /health details straight from an instance, never through nginx. */
  INTERNAL_NETWORKS: z
    .string()
    .default('127.0.0.0/8,::1/128')
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().refine(isNetwork, 'each entry must be an IP address or CIDR block (10.0.0.0/8, ::1/128)'))),
  UPLOADS_IN_FLIGHT_MAX: int(8, 1),
  UPLOADS_IN_FLIGHT_PER_USER: int(2, 1),
  IMAGE_MAX_PIXELS: int(40_000_000, 1),
  /** Status streams (SSE): a heartbeat comment this often (below every proxy's read timeout). */
  SSE_HEARTBEAT_MS: int(15_000, 100).pipe(z.number().max(60_000)),
  /** Status streams: the `retry:` reconnect hint sent to clients. */
  SSE_RETRY_MS: int(2000, 0).pipe(z.number().max(60_000)),
  /** Status streams open at once per partner key on one instance (429 beyond). */
  SSE_STREAMS_PER_KEY: int(10, 1).pipe(z.number().max(1000)),
  /** Status streams open at once per signed-in user on one instance (429 beyond). */
  SSE_STREAMS_PER_USER: int(5, 1).pipe(z.number().max(100)),
  /** Partner stream resume: also re-send states updated this long before Last-Event-ID (commit latency, clock skew). */
  SSE_RESUME_LOOKBACK_MS: int(30_000, 0).pipe(z.number().max(3_600_000)),
});
/** The API's settings: its own, the bureau's (it verifies the bureau's signed callbacks) and the gateway's (its breaker). */
export const serverSchema = serverFields.superRefine((c, ctx) => {
  bureauChecks(c, ctx);
  paymentChecks(c, ctx);
});

export const migrateSchema = baseSchema.extend({
  MIGRATE_BATCH_SIZE: int(1000, 1),
  MIGRATE_BATCH_PAUSE_MS: int(0, 0),
});

export const WORKER_ROLES = ['ocr', 'approval', 'disbursement'] as const;
export type WorkerRole = (typeof WORKER_ROLES)[number];

export const workerSchema = baseSchema
  .extend({
    ...bureauShape,
    WORKER_ROLES: z
      .string()
      .default(WORKER_ROLES.join(','))
      .transform((s) => [
        ...new Set(
          s
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean),
        ),
      ])
      .pipe(z.array(z.enum(WORKER_ROLES, { error: `each role must be one of ${WORKER_ROLES.join(', ')}` })).min(1)),
    WORKER_CONCURRENCY_OCR: int(2, 1),
    WORKER_CONCURRENCY_APPROVAL: int(8, 1),
    WORKER_CONCURRENCY_DISBURSEMENT: int(4, 1),
    WORKER_LEASE_MS: int(30_000, 1000),
    WORKER_POLL_MS: int(1000, 50),
    WORKER_BACKOFF_BASE_MS: int(1000, 10),
    WORKER_BACKOFF_FACTOR: z.coerce.number().min(1).max(10).default(2),
    WORKER_BACKOFF_CAP_MS: int(300_000, 10),
    WORKER_RETENTION_DAYS: int(7, 1),
    WORKER_LOCK_TTL_MS: int(30_000, 1000),
    WORKER_HTTP_PORT: int(0, 0).pipe(z.number().max(65535)),
    WORKER_HTTP_HOST: z.string().default('127.0.0.1'),
    OCR_TIMEOUT_MS: int(60_000, 1000),
    TESSERACT_BIN: z.string().min(1).default('/usr/bin/tesseract'),
    IMAGE_MAX_PIXELS: int(40_000_000, 1),
    OCR_MEMORY_LIMIT_MB: int(1024, 64),
    PAYMENT_GATEWAY_URL: z.union([z.literal(''), z.url()]).default(''),
    ...paymentShape,
    /** The reconciler (a duty of the disbursement role, one process at a time): on/off, how often, its lease. */
    RECONCILE_ENABLED: bool(true),
    RECONCILE_INTERVAL_MS: int(60_000, 100),
    RECONCILE_LEASE_MS: int(30_000, 500),
    /** status=seconds,…: an application in that status for longer is stuck (statuses unknown to this build are ignored). */
    RECONCILE_THRESHOLDS: z
      .string()
      .default('ocr_pending=600,scoring=300,bureau_pending=1800,disbursing=900')
      .transform((s, ctx) => {
        const out: Record<string, number> = {};
        for (const part of s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean)) {
          const m = /^([a-z_]{1,40})=(\d{1,7})$/.exec(part);
          if (!m || Number(m[2]) < 1) {
            ctx.addIssue({ code: 'custom', message: `"${part}" must be status=seconds (seconds ≥ 1)` });
            return z.NEVER;
          }
          out[m[1]!] = Number(m[2]);
        }
        return out;
      }),
    /** Re-drives of one application in one status before the reconciler hands it to a person (needs_review). */
    RECONCILE_MAX_REDRIVES: int(3, 0).pipe(z.number().max(100)),
    /** Stuck applications handled per status per run (the rest wait for the next run). */
    RECONCILE_BATCH: int(100, 1).pipe(z.number().max(10_000)),
    /** Reconciliation runs are kept this many days (TTL). */
    RECONCILE_RUN_RETENTION_DAYS: int(7, 1).pipe(z.number().max(365)),
    /** Automatic approvals of amounts above this wait for a person's second approval. */
    DUAL_APPROVAL_ABOVE: int(100_000, 0),
    /** Production only: lets the approval role run without BUREAU_URL (decisions on declared figures and documents alone), on purpose. */
    APPROVAL_WITHOUT_BUREAU: bool(false),
  })
  .superRefine((c, ctx) => {
    bureauChecks(c, ctx);
    paymentChecks(c, ctx);
    // Production fails closed: a disbursement worker moves money only through a gateway over https,
    // never silently in ledger-only mode (PAYMENT_GATEWAY_URL empty) or in clear text.
    if (c.NODE_ENV === 'production' && c.WORKER_ROLES.includes('disbursement') && !c.PAYMENT_GATEWAY_URL.startsWith('https://'))
      ctx.addIssue({
        code: 'custom',
        path: ['PAYMENT_GATEWAY_URL'],
        message: 'must be an https:// URL of the payment gateway when NODE_ENV=production and the disbursement role runs',
      });
    // Nor does it approve loans without a credit check because a variable was forgotten: deciding on
    // the declared figures alone is an explicit choice in production.
    if (c.NODE_ENV === 'production' && c.WORKER_ROLES.includes('approval') && !c.BUREAU_URL && !c.APPROVAL_WITHOUT_BUREAU)
      ctx.addIssue({
        code: 'custom',
        path: ['BUREAU_URL'],
        message:
          'must be the credit bureau URL when NODE_ENV=production and the approval role runs (to decide on declared figures and documents only, on purpose: APPROVAL_WITHOUT_BUREAU=true)',
      });
  });

const port = (def: number) => int(def, 1).pipe(z.number().max(65535));

/** MONGO_URI, or else the embedded development mongod on MONGO_PORT (`npm start`, the CLIs' default). */
export const embeddedMongoSchema = z.object({
  MONGO_URI: z.preprocess(unsetIfEmpty, baseSchema.shape.MONGO_URI.optional()),
  MONGO_PORT: port(27018),
  /** Members of the embedded replica set: 1 (one mongod on MONGO_PORT) or 3, 5, 7 (on MONGO_PORT, MONGO_PORT+1, …). */
  MONGO_REPLICAS: int(1, 1).pipe(
    z
      .number()
      .max(7)
      .refine((n) => n % 2 === 1, 'must be odd (1, 3, 5 or 7): an even member count adds no fault tolerance'),
  ),
  /** Where `npm start` keeps the embedded mongod's keyfile and users ('' = <project>/.data). */
  DATA_DIR: z.string().default(''),
});
/** The embedded replica set's connection string: every member (MONGO_PORT, MONGO_PORT+1, …) and the set's name. */
export const embeddedMongoUri = (port: number, replicas = 1) =>
  `mongodb://${Array.from({ length: replicas }, (_, i) => `127.0.0.1:${port + i}`).join(',')}/?replicaSet=rs0`;
const optionalPort = z.preprocess(unsetIfEmpty, z.coerce.number().int().min(1).max(65535).optional());
/** WORKER_SCALE_<ROLE>: `min:max` or `min:max:eventsPerProcess` (1 ≤ min ≤ max ≤ 16); min = max: no autoscaling. */
const workerScale = (def: string) =>
  z
    .string()
    .default(def)
    .pipe(z.string().regex(/^\d{1,2}:\d{1,2}(:[1-9]\d{0,5})?$/, 'must be min:max or min:max:eventsPerProcess, e.g. 1:3 or 1:3:50'))
    .transform((v) => {
      const [min = 1, max = 1, perProcess] = v.split(':').map(Number);
      return { min, max, ...(perProcess ? { jobsPerProcess: perProcess } : {}) };
    })
    .refine((s) => s.min >= 1 && s.max >= s.min && s.max <= 16, 'needs 1 ≤ min ≤ max ≤ 16');

/**
 * The local launcher (`npm start`, scripts/start.ts): where the stack listens, which MongoDB it
 * uses (an embedded one when MONGO_URI is unset), and how it supervises its children.
 */
export const launcherSchema = z
  .object({
    NGINX_PORT: optionalPort,
    /** Accepted for NGINX_PORT when that is unset. */
    PORT: optionalPort,
    API_INSTANCES: int(3, 1).pipe(z.number().max(32)),
    API_BASE_PORT: port(3001),
    WORKER_HTTP_BASE_PORT: port(9101),
    PAYMENT_GATEWAY_PORT: port(4100),
    /** The credit-bureau simulator `npm start` runs for the approval worker, and the mode both use. */
    BUREAU_SIMULATOR_PORT: port(4200),
    BUREAU_MODE: bureauShape.BUREAU_MODE,
    ...embeddedMongoSchema.shape,
    MONGO_DB: baseSchema.shape.MONGO_DB,
    SESSION_SECRETS: z.preprocess(unsetIfEmpty, serverSchema.shape.SESSION_SECRETS.optional()),
    PARTNER_KEY_SECRET: serverSchema.shape.PARTNER_KEY_SECRET,
    /** '' = <project>/.data */
    DATA_DIR: z.string().default(''),
    SHUTDOWN_TIMEOUT_MS: baseSchema.shape.SHUTDOWN_TIMEOUT_MS,
    RESTART_BACKOFF_BASE_MS: int(250, 1),
    RESTART_BACKOFF_CAP_MS: int(10_000, 1),
    CRASH_LOOP_EXITS: int(5, 1),
    CRASH_LOOP_WINDOW_MS: int(60_000, 1000),
    /** Worker autoscaling (scripts/stack/autoscaler.ts): processes per role between min and max, from the backlog. */
    WORKER_SCALE_OCR: workerScale('1:2'),
    WORKER_SCALE_APPROVAL: workerScale('1:2'),
    WORKER_SCALE_DISBURSEMENT: workerScale('1:2'),
    WORKER_SCALE_JOBS_PER_PROCESS: int(50, 1),
    WORKER_SCALE_INTERVAL_MS: int(2000, 100).pipe(z.number().max(60_000)),
    WORKER_SCALE_HYSTERESIS: z.coerce.number().min(0).max(0.9).default(0.25),
    WORKER_SCALE_UP_COOLDOWN_MS: int(5000, 0),
    WORKER_SCALE_DOWN_COOLDOWN_MS: int(60_000, 0),
    WORKER_SCALE_MAX_DUE_AGE_MS: int(30_000, 0),
  })
  .superRefine((c, ctx) => {
    const last = c.API_BASE_PORT + c.API_INSTANCES - 1;
    if (last > 65535)
      ctx.addIssue({
        code: 'custom',
        path: ['API_BASE_PORT'],
        message: `leaves no room for ${c.API_INSTANCES} instances (the last port would be ${last})`,
      });
    const lastWorker = c.WORKER_HTTP_BASE_PORT + WORKER_ROLES.length - 1;
    if (lastWorker > 65535)
      ctx.addIssue({
        code: 'custom',
        path: ['WORKER_HTTP_BASE_PORT'],
        message: `leaves no room for ${WORKER_ROLES.length} worker processes (the last port would be ${lastWorker})`,
      });
    if (c.RESTART_BACKOFF_CAP_MS < c.RESTART_BACKOFF_BASE_MS)
      ctx.addIssue({ code: 'custom', path: ['RESTART_BACKOFF_CAP_MS'], message: 'must be at least RESTART_BACKOFF_BASE_MS' });
  })
  .transform(({ PORT, ...c }) => ({ ...c, NGINX_PORT: c.NGINX_PORT ?? PORT ?? 8080 }));

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  const r = schema.safeParse(env);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => {
    const v = String(i.path[0] ?? '?');
    const msg = i.code === 'invalid_type' && env[v] === undefined ? `is required (${i.message})` : i.message;
    return `  ${v} ${msg}`;
  });
  throw new ConfigError(`invalid configuration (see .env.example):\n${lines.join('\n')}`);
}

export type BaseConfig = z.output<typeof baseSchema>;
export type ServerConfig = z.output<typeof serverSchema>;
export type MigrateConfig = z.output<typeof migrateSchema>;
export type WorkerConfig = z.output<typeof workerSchema>;
export type LauncherConfig = z.output<typeof launcherSchema>;
export type BureauConfig = z.output<typeof bureauSchema>;

/** For process entry points: parse (process.env plus `overrides`) or print the problem and exit 1. */
export function loadConfigOrExit<S extends z.ZodType>(schema: S, processName: string, overrides: Record<string, string> = {}): z.output<S> {
  try {
    return parseEnv(schema, { ...process.env, ...overrides });
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`creditdesk ${processName}: ${e.message}`);
      process.exit(1);
    }
    throw e;
  }
}
