// The credit-bureau simulator (scripts/simulators/credit-bureau.ts) as a test process, with its
// test endpoints wrapped: stats, the request log, callback deliveries, run-time control.
import { changeApplication } from '../../lib/domain/applications/commands.js';
import { findApplication } from '../../lib/domain/applications/repository.js';
import type { DomainContext } from '../../lib/domain/context.js';
import { WORKER_ACTORS } from '../../lib/domain/pipeline/events.js';
import { type CreditReport, reportFor } from '../../scripts/simulators/credit-bureau-report.js';
import type { Client } from './http.js';
import type { Env, Proc, Processes } from './processes.js';
import { sampleApplication } from './samples.js';

export interface BureauStats {
  calls: number;
  /** Report requests received per epoch second. */
  perSecond: Record<string, number>;
  statuses: Record<string, number>;
  rateLimited: number;
  probes: number;
  inFlight: number;
  held: number;
  callbacksSent: number;
}
export type { Delivery as BureauDelivery, RequestEntry as BureauRequest } from '../../scripts/simulators/credit-bureau.js';
import type { Delivery as BureauDelivery, RequestEntry as BureauRequest } from '../../scripts/simulators/credit-bureau.js';
/** POST /_sim/control: any subset of the simulator's settings (see the simulator's header). */
export interface BureauControl {
  mode?: 'sync' | 'async';
  latencyMs?: number;
  jitter?: 'none' | 'uniform' | 'lognormal';
  jitterMs?: number;
  errorRate?: number;
  rateLimitPerSecond?: number;
  outage?: boolean;
  outageMs?: number;
  hold?: boolean;
  callbackUrl?: string;
  callbackDelayMs?: number;
  badSignature?: boolean;
  staleTimestamp?: boolean;
  duplicates?: boolean;
}

export type Bureau = Proc & {
  url: string;
  stats(): Promise<BureauStats>;
  /** Report requests after `seq` (oldest first). */
  requests(after?: number): Promise<BureauRequest[]>;
  callbacks(): Promise<BureauDelivery[]>;
  control(patch: BureauControl): Promise<void>;
};

/** The simulator on a free port; `env`: BUREAU_SIM_* start settings (e.g. BUREAU_SIM_WEBHOOK_SECRET). */
export async function bureauProcess(procs: Processes, env: Env = {}): Promise<Bureau> {
  const listening = /listening on (http:\/\/\S+)/;
  const p = await procs.node('credit-bureau', 'scripts/simulators/credit-bureau.ts', env, { args: ['0'], readyLine: listening });
  const url = listening.exec(p.output())![1]!;
  const get = async <T>(path: string): Promise<T> => (await (await fetch(url + path)).json()) as T;
  return Object.assign(p, {
    url,
    stats: () => get<BureauStats>('/_sim/stats'),
    requests: async (after = 0) => (await get<{ items: BureauRequest[] }>(`/_sim/requests?after=${after}`)).items,
    callbacks: async () => (await get<{ items: BureauDelivery[] }>('/_sim/callbacks')).items,
    control: async (patch: BureauControl) => {
      const r = await fetch(`${url}/_sim/control`, { method: 'POST', body: JSON.stringify(patch) });
      if (r.status !== 200) throw new Error(`bureau control ${JSON.stringify(patch)}: ${r.status} ${await r.text()}`);
    },
  });
}

let serial = 0;
export type TestApplicant = { name: string; email: string; phone: string; age: number };

/**
 * An applicant whose simulated bureau report satisfies `want` (reports are a hash of the identity,
 * so the email is varied until one does), with that report.
 */
export function applicantWith(want: (r: CreditReport) => boolean, tag: string): { applicant: TestApplicant; report: CreditReport } {
  for (;;) {
    const applicant = { name: 'Ada Lovelace', email: `${tag}-${process.pid}-${serial++}@example.com`, phone: '+44 20 7946 0000', age: 36 };
    const report = reportFor(applicant);
    if (want(report)) return { applicant, report };
  }
}

/** A report that approves: score ≥ 750, no defaults, identity matched. */
export const clean = (r: CreditReport) => r.score >= 750 && r.defaults === 0 && r.identityMatch;

/**
 * An application created through the API by `reviewer`, then moved to `scoring` with OCR fields
 * matching the applicant, as the OCR stage leaves it: the approval worker decides it next.
 */
export async function inScoring(ctx: DomainContext, reviewer: Client, applicant: TestApplicant): Promise<string> {
  const a = await reviewer.create(sampleApplication({ applicant }));
  const ocr = {
    documentId: '0'.repeat(24),
    fields: { name: applicant.name, income: 90_000, idNumber: null },
    mismatches: [],
    text: '',
    readAt: new Date(),
  };
  const doc = await findApplication(ctx.c, a.id);
  if (!doc) throw new Error(`application ${a.id} vanished`);
  await changeApplication(ctx, doc, { status: 'scoring', ocr }, { actor: WORKER_ACTORS.ocr }, 'system');
  return a.id;
}
