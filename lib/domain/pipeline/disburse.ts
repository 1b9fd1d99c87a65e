// Use case for the disbursement worker, under the per-loan lock `loan:<id>`:
//   approved → disbursing (stamping the lock's fencing number) → pay exactly the approved terms
//   (the snapshot taken at approval; idempotency key per loan) → ONE transaction: ledger entry (unique per application) + disbursing → disbursed.
// Whatever retries, duplicates, crashes or races happen, there is at most one ledger entry per
// application: the unique index refuses a second one, and a holder whose lock was taken over has
// a stale fence and version, so its final transaction is refused.
import { StaleFenceError, withLock } from '../../locks/index.js';
import { PermanentError, RescheduleError } from '../../queue/index.js';
import { changeApplication, updateWithRetry } from '../applications/commands.js';
import { findApplication } from '../applications/repository.js';
import type { ApprovedTerms } from '../applications/types.js';
import type { Status } from '../applications/status.js';
import { type ApplicationHooks, type DomainContext, type Meta, withHook } from '../context.js';
import { WORKER_ACTORS, type DisbursementRequested } from './events.js';
import { insertLedgerEntry } from './ledger.js';
import type { PaymentGateway } from './payment-gateway.js';

export interface Disbursing {
  lockTtlMs: number;
  gateway?: PaymentGateway | undefined;
}
type Job = { eventId: string; signal: AbortSignal; requestId?: string | undefined };

/** Inside the final transaction: refuse a stale holder, then write the one ledger entry. */
function ledgerWrite(
  ctx: DomainContext,
  terms: ApprovedTerms,
  fence: number,
  eventId: string,
  paymentRef: string | null,
): ApplicationHooks {
  return {
    async afterChanges(changes, session) {
      for (const { before, after } of changes) {
        if (after.status !== 'disbursed') continue;
        if (before?.disbursement?.fence !== fence) throw new StaleFenceError(`loan:${after._id}`, fence);
        await insertLedgerEntry(
          ctx.c,
          {
            applicationId: after._id,
            kind: 'disbursement',
            amount: terms.amount,
            currency: terms.currency,
            fence,
            paymentRef,
            eventId,
            createdAt: new Date(),
          },
          session,
        );
      }
    },
  };
}

/** How the money moves once the loan lock is held and `disbursing` carries our fence: a payment reference, or null (ledger only). */
export type Payer = (terms: ApprovedTerms, signal: AbortSignal) => Promise<string | null>;

/** The gateway's idempotency key for an application's disbursement: one payment per loan, ever. */
export const paymentKey = (applicationId: string) => `disbursement:${applicationId}`;

/**
 * Under the loan lock: approved → disbursing (or take over a `disbursing` with our higher fence),
 * `payer`, then ONE transaction: ledger entry + disbursed, refused if a newer holder stamped its
 * fence. Shared by the disbursement worker (payer = the gateway's pay) and the reconciler (payer =
 * the payment the gateway already has). `from`: the statuses this run may start from.
 */
export async function settleDisbursement(
  ctx: DomainContext,
  d: { lockTtlMs: number },
  a: { applicationId: string; eventId: string; signal: AbortSignal; meta: Meta; from: readonly Status[] },
  payer: Payer,
) {
  return withLock(
    ctx.db,
    `loan:${a.applicationId}`,
    d.lockTtlMs,
    async (lease) => {
      const app = await findApplication(ctx.c, a.applicationId);
      if (!app) throw new PermanentError(`application ${a.applicationId} does not exist`);
      if (!a.from.includes(app.status)) return { outcome: 'skipped', status: app.status };
      const terms = app.terms;
      if (!terms) throw new PermanentError(`application ${app._id} has no approved terms to pay`);

      // Enter disbursing, or take over an interrupted disbursement with our (higher) fence.
      const started = await updateWithRetry(
        ctx,
        app,
        (doc) => {
          const disbursement = { ...doc.disbursement, fence: lease.fence, eventId: a.eventId, startedAt: new Date() };
          if (doc.status === 'approved' && a.from.includes('approved')) return { status: 'disbursing', disbursement };
          if (doc.status === 'disbursing' && (doc.disbursement?.fence ?? 0) < lease.fence) return { disbursement };
          return null;
        },
        a.meta,
      );
      if (started.status !== 'disbursing' || started.disbursement?.fence !== lease.fence) {
        return { outcome: 'skipped', status: started.status };
      }

      lease.signal.throwIfAborted();
      const paymentRef = await payer(terms, AbortSignal.any([a.signal, lease.signal]));
      lease.signal.throwIfAborted();

      const done = await changeApplication(
        withHook(ctx, ledgerWrite(ctx, terms, lease.fence, a.eventId, paymentRef)),
        started,
        { status: 'disbursed', disbursement: { ...started.disbursement, paymentRef, completedAt: new Date() } },
        a.meta,
        'system',
      );
      return { outcome: 'disbursed', fence: lease.fence, paymentRef: done.disbursement?.paymentRef ?? null };
    },
    { waitMs: 2000 },
  );
}

/**
 * The disbursement worker's use case. The gateway is called through its VendorClient: while its
 * breaker is open (or its rate is used up) pay() throws a RescheduleError and the event waits
 * without spending an attempt; the application stays `disbursing` under the fence it was stamped with.
 */
export async function disburse(ctx: DomainContext, d: Disbursing, p: DisbursementRequested, job: Job) {
  const meta = { actor: WORKER_ACTORS.disbursement, requestId: job.requestId };
  const gateway = d.gateway;
  // The breaker is known open: wait without taking the lock or stamping the application again.
  const closedAgainAt = gateway?.unavailableUntil();
  if (closedAgainAt) throw new RescheduleError(closedAgainAt, 'payment gateway unavailable (circuit_open)');
  return settleDisbursement(
    ctx,
    d,
    { applicationId: p.applicationId, eventId: job.eventId, signal: job.signal, meta, from: ['approved', 'disbursing'] },
    async (terms, signal) => {
      if (!gateway) return null;
      const payment = await gateway.pay(
        { idempotencyKey: paymentKey(p.applicationId), applicationId: p.applicationId, amount: terms.amount, currency: terms.currency },
        signal,
      );
      return payment.paymentId;
    },
  );
}
