// Use case for the disbursement worker, under the per-loan lock `loan:<id>`:
//   approved → disbursing (stamping the lock's fencing number) → pay (idempotency key per loan)
//   → ONE transaction: ledger entry (unique per application) + disbursing → disbursed.
// Whatever retries, duplicates, crashes or races happen, there is at most one ledger entry per
// application: the unique index refuses a second one, and a holder whose lock was taken over has
// a stale fence and version, so its final transaction is refused.
import type { Db } from 'mongodb';
import { conflict } from '../../errors.js';
import { withLock } from '../../locks/index.js';
import { PermanentError } from '../../queue/index.js';
import { updateApplication, updateWithRetry } from '../applications/commands.js';
import type { ApplicationHooks, Deps } from '../applications/context.js';
import { WORKER_ACTORS, type DisbursementRequested } from './events.js';
import { composeHooks, withPipelineHooks } from './hooks.js';
import type { PaymentGateway } from './payment-gateway.js';

export interface DisburseEnv { deps: Deps; db: Db; lockTtlMs: number; gateway?: PaymentGateway | undefined; currency?: string }
type Ctx = { eventId: string; signal: AbortSignal; requestId?: string | undefined };

/** Inside the final transaction: refuse a stale holder, then write the one ledger entry. */
function ledgerWrite(env: DisburseEnv, fence: number, eventId: string, paymentRef: string | null): ApplicationHooks {
  return {
    async afterChange({ before, after, session }) {
      if (after.status !== 'disbursed') return;
      if (before?.disbursement?.fence !== fence) throw conflict(`fence ${fence} is stale for ${after._id}`);
      await env.deps.c.ledger.insertOne({
        applicationId: after._id, kind: 'disbursement', amount: after.amount, currency: env.currency ?? 'USD',
        fence, paymentRef, eventId, createdAt: new Date(),
      }, { session });
    },
  };
}

export async function disburse(env: DisburseEnv, p: DisbursementRequested, ctx: Ctx) {
  const deps = withPipelineHooks(env.deps);
  const meta = { actor: WORKER_ACTORS.disbursement, requestId: ctx.requestId };
  return withLock(env.db, `loan:${p.applicationId}`, env.lockTtlMs, async (lease) => {
    const app = await deps.c.applications.findOne({ _id: p.applicationId });
    if (!app) throw new PermanentError(`application ${p.applicationId} does not exist`);
    if (app.status !== 'approved' && app.status !== 'disbursing') return { outcome: 'skipped', status: app.status };

    // Enter disbursing, or take over an interrupted disbursement with our (higher) fence.
    const started = await updateWithRetry(deps, p.applicationId, (doc) => {
      const disbursement = { ...(doc.disbursement ?? {}), fence: lease.fence, eventId: ctx.eventId, startedAt: new Date() };
      if (doc.status === 'approved') return { status: 'disbursing', disbursement };
      if (doc.status === 'disbursing' && Number(doc.disbursement?.fence ?? 0) < lease.fence) return { disbursement };
      return null;
    }, meta);
    if (started.status !== 'disbursing' || started.disbursement?.fence !== lease.fence) {
      return { outcome: 'skipped', status: started.status };
    }

    lease.signal.throwIfAborted();
    const payment = env.gateway
      ? await env.gateway.pay({ idempotencyKey: `disbursement:${p.applicationId}`, applicationId: p.applicationId, amount: started.amount, currency: env.currency ?? 'USD' }, AbortSignal.any([ctx.signal, lease.signal]))
      : null;
    lease.signal.throwIfAborted();

    const done = await updateApplication(
      { ...deps, hooks: composeHooks(deps.hooks, ledgerWrite(env, lease.fence, ctx.eventId, payment?.paymentId ?? null)) },
      p.applicationId, started.version,
      { status: 'disbursed', disbursement: { ...started.disbursement, paymentRef: payment?.paymentId ?? null, completedAt: new Date() } },
      meta, 'system',
    );
    return { outcome: 'disbursed', fence: lease.fence, paymentRef: done.disbursement?.paymentRef ?? null };
  }, { waitMs: 2000 });
}
