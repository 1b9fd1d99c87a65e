// approval.requested → credit bureau (when configured) → risk rules → approved | rejected |
// pending_review (awaiting_second_approval above DUAL_APPROVAL_ABOVE: a person approves second), or
// bureau_pending (async bureau: its signed callback decides). While the bureau is unavailable the
// event is rescheduled (RescheduleError), not failed.
import { decideApproval } from '../../lib/domain/pipeline/decide-approval.js';
import { EVENT, MAX_ATTEMPTS, WORKER_ACTORS, approvalRequested, type ApprovalRequested } from '../../lib/domain/pipeline/events.js';
import type { JobDefinition } from '../../lib/queue/index.js';
import type { WorkerContext } from '../context.js';
import { failApplicationOnGiveUp } from './fail-application.js';

export function approvalJob(ctx: WorkerContext): JobDefinition<ApprovalRequested> {
  return {
    type: EVENT.approval,
    payload: approvalRequested,
    maxAttempts: MAX_ATTEMPTS[EVENT.approval],
    handle: (p, job) => decideApproval(ctx, { dualApprovalAbove: ctx.cfg.DUAL_APPROVAL_ABOVE }, p, job, ctx.bureau?.requester),
    onGiveUp: failApplicationOnGiveUp(ctx, 'approval', 'scoring', WORKER_ACTORS.approval),
  };
}
