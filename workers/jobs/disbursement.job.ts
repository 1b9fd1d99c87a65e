// disbursement.requested → under the loan lock: disbursing → pay (through the gateway's VendorClient:
// while its breaker is open the event is rescheduled, not failed) → ledger + disbursed. The give-up
// hook only records the error-log entry: money may have moved, so a given-up disbursement stays
// `disbursing` and waits in the dead letters for an operator's retry (which is safe: it is
// idempotent) — or for the reconciler, which asks the gateway for the payment and finishes it.
import { disburse } from '../../lib/domain/pipeline/disburse.js';
import { EVENT, MAX_ATTEMPTS, disbursementRequested, type DisbursementRequested } from '../../lib/domain/pipeline/events.js';
import type { JobDefinition } from '../../lib/queue/index.js';
import type { WorkerContext } from '../context.js';
import { recordGiveUp } from './fail-application.js';

export function disbursementJob(ctx: WorkerContext): JobDefinition<DisbursementRequested> {
  const disbursing = { lockTtlMs: ctx.cfg.WORKER_LOCK_TTL_MS, gateway: ctx.gateway };
  return {
    type: EVENT.disbursement,
    payload: disbursementRequested,
    maxAttempts: MAX_ATTEMPTS[EVENT.disbursement],
    handle: (p, job) => disburse(ctx, disbursing, p, job),
    onGiveUp: recordGiveUp(ctx),
  };
}
