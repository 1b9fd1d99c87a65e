// Use case for the disbursement worker, under the per-loan lock `loan:<id>`:
//   approved → disbursing (stamping the lock's fencing number) → pay exactly the approved terms
//   (the snapshot taken at approval; idempotency key per loan) → ONE transaction: ledger entry (unique per application) + disbursing → disbursed.
// Whatever retries, duplicates, crashes or races happen, there is at most one ledger entry per
// application: the unique index refuses a second one, and a holder whose lock was taken over has
// a stale fence and version, so its final transaction is refused.
import { StaleFenceError, withLock } from '../../locks/index.js';
import { PermanentError } from '../../queue/index.js';
import { changeApplication, updateWithRetry } from '../applications/commands.js';
import { findApplication } from '../applications/repository.js';
import type { ApprovedTerms } from '../applications/types.js';
import { type ApplicationHooks, type DomainContext, withHook } from '../context.js';
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

export async function disburse(ctx: DomainContext, d: Disbursing, p: DisbursementRequested, job: Job) {
  const meta = { actor: WORKER_ACTORS.disbursement, requestId: job.requestId };
  return withLock(
    ctx.db,
    `loan:${p.applicationId}`,
    d.lockTtlMs,
    async (lease) => {
      const app = await findApplication(ctx.c, p.applicationId);
      if (!app) throw new PermanentError(`application ${p.applicationId} does not exist`);
      if (app.status !== 'approved' && app.status !== 'disbursing') return { outcome: 'skipped', status: app.status };
      const terms = app.terms;
      if (!terms) throw new PermanentError(`application ${app._id} has no approved terms to pay`);

      // Enter disbursing, or take over an interrupted disbursement with our (higher) fence.
      const started = await updateWithRetry(
        ctx,
        app,
        (doc) => {
          const disbursement = { ...doc.disbursement, fence: lease.fence, eventId: job.eventId, startedAt: new Date() };
          if (doc.status === 'approved') return { status: 'disbursing', disbursement };
          if (doc.status === 'disbursing' && (doc.disbursement?.fence ?? 0) < lease.fence) return { disbursement };
          return null;
        },
        meta,
      );
      if (started.status !== 'disbursing' || started.disbursement?.fence !== lease.fence) {
        return { outcome: 'skipped', status: started.status };
      }

      lease.signal.throwIfAborted();
      const payment = d.gateway
        ? await d.gateway.pay(
            {
              idempotencyKey: `disbursement:${p.applicationId}`,
              applicationId: p.applicationId,
              amount: terms.amount,
              currency: terms.currency,
            },
            AbortSignal.any([job.signal, lease.signal]),
          )
        : null;
      lease.signal.throwIfAborted();

      const paymentRef = payment?.paymentId ?? null;
      const done = await changeApplication(
        withHook(ctx, ledgerWrite(ctx, terms, lease.fence, job.eventId, paymentRef)),
        started,
        { status: 'disbursed', disbursement: { ...started.disbursement, paymentRef, completedAt: new Date() } },
        meta,
        'system',
      );
      return { outcome: 'disbursed', fence: lease.fence, paymentRef: done.disbursement?.paymentRef ?? null };
    },
    { waitMs: 2000 },
  );
}
