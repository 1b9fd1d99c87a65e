// The credit bureau over HTTP, through the shared VendorClient (lib/vendors/call-vendor.ts: one
// rate limit and one circuit breaker per vendor across every worker process, per-attempt timeout,
// retries with full jitter under a retry budget). One request per application: POST
// <BUREAU_URL>/v1/reports with the applicant's identity and our tracking id as `reference`.
//   200 → the report (sync) · 202 → {requestId}: the report comes later by signed callback (async)
//   denied (breaker open, rate limit used up, vendor errors beyond what is retried inline) →
//   "unavailable until T": the caller reschedules its event, it never sleeps in a lane
//   another 4xx → the bureau refuses our request: a PermanentError (retrying cannot help)
import { z } from 'zod';
import { PermanentError } from '../../queue/index.js';
import type { DeniedReason, VendorClient } from '../../vendors/call-vendor.js';
import type { ApplicationDoc, BureauMode } from '../applications/types.js';

/** The report fields the bureau answers (sync) or sends in its callback (async); other fields are ignored. */
export const bureauReportSchema = z.object({
  reportId: z.string().min(1).max(200),
  score: z.number().int().min(0).max(1000),
  openAccounts: z.number().int().min(0).max(10_000),
  defaults: z.number().int().min(0).max(10_000),
  identityMatch: z.boolean(),
});
export type BureauReportFields = z.output<typeof bureauReportSchema>;

const acceptedSchema = z.object({ requestId: z.string().min(1).max(200) });

export type BureauAnswer =
  | { kind: 'report'; mode: 'sync'; report: BureauReportFields }
  | { kind: 'accepted'; mode: 'async'; requestId: string }
  | { kind: 'unavailable'; reason: DeniedReason; retryAt: Date; detail?: string | undefined };

export interface BureauRequester {
  /** The vendor's name (breaker and limiter key, stored on the application). */
  readonly vendor: string;
  /** What this lender's contract with the bureau says (BUREAU_MODE); the answer's status decides. */
  readonly mode: BureauMode;
  request(app: ApplicationDoc, signal?: AbortSignal): Promise<BureauAnswer>;
}

/** `caller`: this process (sent as X-Sim-Caller, which the simulator logs; a real bureau ignores it). */
export function httpBureau(client: VendorClient, baseUrl: string, mode: BureauMode, caller: string): BureauRequester {
  const url = new URL('/v1/reports', baseUrl).toString();
  return {
    vendor: client.opts.name,
    mode,
    async request(app, signal) {
      const body = JSON.stringify({
        reference: app._id,
        name: app.applicant.name,
        email: app.applicant.email,
        phone: app.applicant.phone,
        age: app.applicant.age,
        declaredIncome: app.income,
      });
      const r = await client.call(
        (a) =>
          fetch(url, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              // RFC 7240: ask for the asynchronous answer when the contract is async.
              ...(mode === 'async' ? { prefer: 'respond-async' } : {}),
              ...(a.probe ? { 'x-circuit-probe': '1' } : {}),
              'x-sim-caller': caller,
            },
            body,
            signal: a.signal,
          }),
        signal,
      );
      if (!r.ok) return { kind: 'unavailable', reason: r.reason, retryAt: r.retryAt, detail: r.error };
      const res = r.response;
      const json: unknown = await res.json().catch(() => undefined);
      if (res.status === 200) {
        const report = bureauReportSchema.safeParse(json);
        // A malformed report is the vendor's fault: an ordinary error, retried with the queue's backoff.
        if (!report.success) throw new Error(`the bureau answered 200 with an unreadable report: ${report.error.message}`);
        return { kind: 'report', mode: 'sync', report: report.data };
      }
      if (res.status === 202) {
        const accepted = acceptedSchema.safeParse(json);
        if (!accepted.success) throw new Error(`the bureau answered 202 without a request id: ${accepted.error.message}`);
        return { kind: 'accepted', mode: 'async', requestId: accepted.data.requestId };
      }
      throw new PermanentError(`the bureau refused the request: HTTP ${res.status} ${JSON.stringify(json ?? null).slice(0, 300)}`);
    },
  };
}
