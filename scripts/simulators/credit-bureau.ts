// A credit-bureau SIMULATOR: a real HTTP server process standing in for a credit bureau in
// development and tests. It is not a bureau and holds no credit data; reports are derived from a
// hash of the applicant's identity (credit-bureau-report.ts) and say `simulated: true`.
//   tsx scripts/simulators/credit-bureau.ts [port]      (PORT env or 4200; 0 = any free port)
// POST /v1/reports {name, email, phone?, age?, declaredIncome?, nationalId?, reference?}:
//   sync mode → 200 {reportId, score, openAccounts, defaults, identityMatch, modelVersion, simulated};
//   async mode → 202 {requestId}, then after callbackDelayMs a signed Standard Webhooks callback
//   (lib/webhooks/standard-webhooks.ts, the app's own signer) POSTed to callbackUrl with
//   {type: 'credit_report.completed', timestamp, data: {requestId, reference, report}}, retried
//   (same webhook-id) up to 3 times on a network error or a 5xx.
// Behaviour, from BUREAU_SIM_* variables at start and POST /_sim/control {…} at run time (the same
// names in camelCase, unknown keys refused): mode, latencyMs + jitter (none|uniform|lognormal,
// seeded by BUREAU_SIM_SEED), errorRate (share of 500s), rateLimitPerSecond (its own per-second
// window: over it → 429 with Retry-After), outage (503 for every report request; outageMs turns it
// off again after that long), hold (answer nothing until hold is turned off: a caller can be killed
// mid-call), callbackUrl, callbackDelayMs, and the callback test switches badSignature,
// staleTimestamp (10 minutes old) and duplicates (each callback delivered twice, same webhook-id).
// For tests: GET /_sim/stats (counters), GET /_sim/requests?after=<seq> (the last 5,000 report
// requests: seq, caller from X-Sim-Caller, probe from X-Circuit-Probe, status), GET /_sim/callbacks
// (deliveries), POST /_sim/reset (counters and logs). GET /health.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { generateSecret, signedHeaders } from '../../lib/webhooks/standard-webhooks.js';
import { type Applicant, applicantSchema, latencyMs, reportFor, seededRandom } from './credit-bureau-report.js';

const env = process.env;
const num = (v: string | undefined, def: number) => (v === undefined || v === '' ? def : Number(v));
const settingsSchema = z.strictObject({
  mode: z.enum(['sync', 'async']),
  latencyMs: z.number().min(0).max(60_000),
  jitter: z.enum(['none', 'uniform', 'lognormal']),
  jitterMs: z.number().min(0).max(60_000),
  lognormalSigma: z.number().min(0).max(3),
  errorRate: z.number().min(0).max(1),
  rateLimitPerSecond: z.number().int().min(0),
  outage: z.boolean(),
  hold: z.boolean(),
  callbackUrl: z.union([z.literal(''), z.url()]),
  callbackDelayMs: z.number().min(0).max(600_000),
  badSignature: z.boolean(),
  staleTimestamp: z.boolean(),
  duplicates: z.boolean(),
});
type Settings = z.output<typeof settingsSchema>;
const controlSchema = settingsSchema.partial().extend({ outageMs: z.number().int().min(1).max(3_600_000).optional() });

const settings: Settings = settingsSchema.parse({
  mode: env.BUREAU_SIM_MODE || 'sync',
  latencyMs: num(env.BUREAU_SIM_LATENCY_MS, 50),
  jitter: env.BUREAU_SIM_JITTER || 'none',
  jitterMs: num(env.BUREAU_SIM_JITTER_MS, 0),
  lognormalSigma: num(env.BUREAU_SIM_LOGNORMAL_SIGMA, 0.5),
  errorRate: num(env.BUREAU_SIM_ERROR_RATE, 0),
  rateLimitPerSecond: num(env.BUREAU_SIM_RATE_LIMIT, 0),
  outage: env.BUREAU_SIM_OUTAGE === '1',
  hold: false,
  callbackUrl: env.BUREAU_SIM_CALLBACK_URL ?? '',
  callbackDelayMs: num(env.BUREAU_SIM_CALLBACK_DELAY_MS, 100),
  badSignature: false,
  staleTimestamp: false,
  duplicates: false,
});
// The secret callbacks are signed with (whsec_…); the receiver must hold the same one.
const secret = env.BUREAU_SIM_WEBHOOK_SECRET || generateSecret();
const random = seededRandom(num(env.BUREAU_SIM_SEED, 1));
let outageTimer: NodeJS.Timeout | undefined;

/** One report request as GET /_sim/requests lists it (tests read it through tests/helpers/bureau.ts). */
export interface RequestEntry {
  seq: number;
  at: number;
  caller: string | null;
  probe: boolean;
  status: number | null;
}
/** One callback delivery as GET /_sim/callbacks lists it. */
export interface Delivery {
  webhookId: string;
  requestId: string;
  kind: 'first' | 'duplicate';
  attempt: number;
  status: number | null;
  error?: string;
  at: number;
}
const KEEP = 5000;
const stats = {
  calls: 0,
  /** Report requests received per whole second (epoch seconds → count), last 300 seconds. */
  perSecond: {} as Record<string, number>,
  statuses: {} as Record<string, number>,
  rateLimited: 0,
  probes: 0,
  inFlight: 0,
  callbacksSent: 0,
};
let requests: RequestEntry[] = [];
let deliveries: Delivery[] = [];
let held: Array<() => void> = [];
let windowSec = 0;
let windowCount = 0;

const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', 'x-simulator': 'credit-bureau', ...headers });
  res.end(JSON.stringify(body));
};
async function json(req: IncomingMessage): Promise<unknown> {
  let raw = '';
  for await (const chunk of req) {
    raw += chunk;
    if (raw.length > 10_000) return undefined;
  }
  try {
    return JSON.parse(raw || '{}');
  } catch {
    return undefined;
  }
}
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function countArrival(req: IncomingMessage): RequestEntry {
  const sec = Math.floor(Date.now() / 1000);
  stats.calls++;
  stats.perSecond[sec] = (stats.perSecond[sec] ?? 0) + 1;
  delete stats.perSecond[sec - 300];
  const probe = req.headers['x-circuit-probe'] === '1';
  if (probe) stats.probes++;
  const caller = req.headers['x-sim-caller'];
  const entry: RequestEntry = { seq: stats.calls, at: Date.now(), caller: typeof caller === 'string' ? caller : null, probe, status: null };
  requests.push(entry);
  if (requests.length > KEEP) requests = requests.slice(-KEEP);
  return entry;
}

/** The bureau's own per-second limit; false (and counted) when this request is over it. */
function withinRateLimit(): boolean {
  if (settings.rateLimitPerSecond === 0) return true;
  const sec = Math.floor(Date.now() / 1000);
  if (sec !== windowSec) {
    windowSec = sec;
    windowCount = 0;
  }
  if (windowCount >= settings.rateLimitPerSecond) return false;
  windowCount++;
  return true;
}

async function deliver(url: string, requestId: string, body: string, headers: Record<string, string>, kind: Delivery['kind']) {
  for (let attempt = 1; attempt <= 3; attempt++) {
    const d: Delivery = { webhookId: headers['webhook-id']!, requestId, kind, attempt, status: null, at: Date.now() };
    deliveries.push(d);
    if (deliveries.length > KEEP) deliveries = deliveries.slice(-KEEP);
    stats.callbacksSent++;
    try {
      const r = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      d.status = r.status;
      await r.body?.cancel();
      if (r.status < 500) return;
    } catch (e) {
      d.error = (e as Error).message;
    }
    await sleep(200 * 2 ** (attempt - 1));
  }
}

/** Async mode: the signed callback, shaped by the test switches at the time it is sent. */
async function callback(requestId: string, a: Applicant) {
  await sleep(settings.callbackDelayMs);
  const url = settings.callbackUrl;
  if (!url) return;
  const body = JSON.stringify({
    type: 'credit_report.completed',
    timestamp: new Date().toISOString(),
    data: { requestId, reference: a.reference ?? null, report: reportFor(a) },
  });
  const ts = Math.floor(Date.now() / 1000) - (settings.staleTimestamp ? 600 : 0);
  const headers = { ...signedHeaders(settings.badSignature ? generateSecret() : secret, `msg_${randomUUID()}`, body, ts) };
  await deliver(url, requestId, body, headers, 'first');
  if (settings.duplicates) await deliver(url, requestId, body, headers, 'duplicate');
}

async function report(req: IncomingMessage, res: ServerResponse) {
  const entry = countArrival(req);
  stats.inFlight++;
  const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
    entry.status = status;
    stats.statuses[status] = (stats.statuses[status] ?? 0) + 1;
    stats.inFlight--;
    send(res, status, body, headers);
  };
  const body = await json(req);
  if (settings.hold) await new Promise<void>((r) => held.push(r));
  if (!withinRateLimit()) {
    stats.rateLimited++;
    // The window is one second: the next one starts within a second.
    return answer(429, { error: 'rate limit exceeded' }, { 'retry-after': '1' });
  }
  if (settings.outage) return answer(503, { error: 'bureau unavailable (simulated outage)' });
  await sleep(latencyMs(settings.latencyMs, settings.jitter, settings.jitterMs, settings.lognormalSigma, random));
  if (random() < settings.errorRate) return answer(500, { error: 'simulated bureau error' });
  const parsed = applicantSchema.safeParse(body);
  if (!parsed.success)
    return answer(400, { error: 'invalid applicant', issues: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) });
  if (settings.mode === 'sync') return answer(200, reportFor(parsed.data));
  const requestId = `req_${randomUUID()}`;
  answer(202, { requestId });
  void callback(requestId, parsed.data);
}

function releaseHeld() {
  const waiting = held;
  held = [];
  for (const f of waiting) f();
}

function control(patch: z.output<typeof controlSchema>) {
  const { outageMs, ...rest } = patch;
  Object.assign(settings, rest);
  clearTimeout(outageTimer);
  if (outageMs !== undefined) {
    settings.outage = true;
    outageTimer = setTimeout(() => {
      settings.outage = false;
    }, outageMs);
  }
  if (!settings.hold) releaseHeld();
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method === 'POST' && url.pathname === '/v1/reports') return report(req, res);
  if (req.method === 'GET' && url.pathname === '/_sim/stats') return send(res, 200, { ...stats, held: held.length, settings });
  if (req.method === 'GET' && url.pathname === '/_sim/requests') {
    const after = Number(url.searchParams.get('after') ?? 0);
    return send(res, 200, { items: requests.filter((r) => r.seq > after) });
  }
  if (req.method === 'GET' && url.pathname === '/_sim/callbacks') return send(res, 200, { items: deliveries });
  if (req.method === 'POST' && url.pathname === '/_sim/control') {
    const parsed = controlSchema.safeParse(await json(req));
    if (!parsed.success) return send(res, 400, { error: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
    control(parsed.data);
    return send(res, 200, { settings });
  }
  if (req.method === 'POST' && url.pathname === '/_sim/reset') {
    Object.assign(stats, { calls: 0, perSecond: {}, statuses: {}, rateLimited: 0, probes: 0, callbacksSent: 0 });
    requests = [];
    deliveries = [];
    return send(res, 200, { reset: true });
  }
  if (req.method === 'GET' && url.pathname === '/health') return send(res, 200, { status: 'ok' });
  send(res, 404, { error: 'not found' });
});

server.listen(Number(process.argv[2] ?? process.env.PORT ?? 4200), process.env.HOST ?? '127.0.0.1', () => {
  console.log(`credit-bureau-simulator listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
const stop = () => {
  releaseHeld();
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
