// Vendor metrics for a worker's /metrics, labelled by vendor name (bounded: the vendors the process
// is configured with). From each VendorClient's own numbers (call-vendor.ts metrics(), read at
// scrape time, no extra work per call): calls, attempts and their outcomes, calls denied here
// (rate limit, open breaker), the retry budget, and the circuit breaker state this process last
// read (one gauge per state, 1 for the current one; no round trip per scrape). Latency: every
// outbound fetch of the process, timed from undici's diagnostics channels, by server address.
import { subscribe } from 'node:diagnostics_channel';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { VendorClient, VendorMetrics } from '../vendors/call-vendor.js';

const BREAKER_STATES = ['closed', 'open', 'half_open'] as const;

/** Registers the vendor series on `registry`; `vendors()` lists the process's clients at scrape time. */
export function registerVendorMetrics(registry: Registry, vendors: () => VendorClient[]): void {
  const total = (name: string, help: string, value: (m: VendorMetrics) => number) =>
    new Counter({
      name,
      help,
      labelNames: ['vendor'],
      registers: [registry],
      collect() {
        this.reset();
        for (const v of vendors()) {
          const m = v.metrics();
          this.inc({ vendor: m.vendor }, value(m));
        }
      },
    });
  total('vendor_calls_total', 'calls made through the vendor wrapper (each may take several attempts)', (m) => m.calls);
  total('vendor_attempts_total', 'HTTP attempts sent to the vendor', (m) => m.attempts);
  total('vendor_successes_total', 'calls the vendor answered (2xx-4xx but 429)', (m) => m.successes);
  total('vendor_failures_total', 'attempts that failed (5xx, 408, timeout, network error)', (m) => m.failures);
  total('vendor_timeouts_total', 'attempts that timed out', (m) => m.timeouts);
  total('vendor_throttled_total', "the vendor's own 429 answers", (m) => m.vendor429);
  total(
    'vendor_denied_rate_limit_total',
    "calls refused here by the shared rate limit or the vendor's Retry-After",
    (m) => m.deniedRateLimit,
  );
  total('vendor_denied_circuit_total', 'calls refused here because the breaker is open', (m) => m.deniedCircuit);
  total('vendor_retries_total', 'retries the retry budget allowed', (m) => m.retries.retriesTotal);
  new Gauge({
    name: 'vendor_retry_budget_available',
    help: 'retries the retry budget still allows in its window',
    labelNames: ['vendor'],
    registers: [registry],
    collect() {
      this.reset();
      for (const v of vendors()) this.set({ vendor: v.opts.name }, v.metrics().retries.available);
    },
  });
  new Gauge({
    name: 'vendor_breaker_state',
    help: "the vendor circuit breaker's state as this process last read it: 1 for the current state, 0 for the others",
    labelNames: ['vendor', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const v of vendors()) {
        const view = v.breaker.cached();
        if (!view) continue; // not read yet: no call made
        for (const state of BREAKER_STATES) this.set({ vendor: v.opts.name, state }, view.state === state ? 1 : 0);
      }
    },
  });
}

const outbound = new Histogram({
  name: 'http_client_request_duration_seconds',
  help: 'outbound HTTP requests (vendors, gateway) from request to response headers, by server and status class',
  labelNames: ['server', 'status'],
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [],
});
let timing = false;

/**
 * Times every outbound fetch of this process (undici's `undici:request:create` → `:headers` or
 * `:error`) into http_client_request_duration_seconds on `registry`. The server label is the
 * request's origin (host:port): the vendors the process is configured with.
 */
export function registerOutboundLatency(registry: Registry): void {
  registry.registerMetric(outbound);
  if (timing) return;
  timing = true;
  const started = new WeakMap<object, { at: bigint; server: string }>();
  const done = (request: object, status: string) => {
    const s = started.get(request);
    if (!s) return;
    started.delete(request);
    outbound.observe({ server: s.server, status }, Number(process.hrtime.bigint() - s.at) / 1e9);
  };
  subscribe('undici:request:create', (m) => {
    const { request } = m as { request: { origin: string } };
    started.set(request, { at: process.hrtime.bigint(), server: new URL(request.origin).host });
  });
  subscribe('undici:request:headers', (m) => {
    const { request, response } = m as { request: object; response: { statusCode: number } };
    done(request, `${Math.floor(response.statusCode / 100)}xx`);
  });
  subscribe('undici:request:error', (m) => done((m as { request: object }).request, 'error'));
}
