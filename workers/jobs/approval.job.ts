// approval.requested → risk rules → approved | rejected | pending_review.
import { decideApproval } from '../../lib/domain/pipeline/decide-approval.js';
import { EVENT, MAX_ATTEMPTS, WORKER_ACTORS, approvalRequested, type ApprovalRequested } from '../../lib/domain/pipeline/events.js';
import type { JobDefinition } from '../../lib/queue/index.js';
import { failStageOnGiveUp, type JobEnv } from './env.js';

export function approvalJob(env: JobEnv): JobDefinition<ApprovalRequested> {
  return {
    type: EVENT.approval,
    payload: approvalRequested,
    maxAttempts: MAX_ATTEMPTS[EVENT.approval],
    handle: (p, ctx) => failStageOnGiveUp(env, {
      applicationId: p.applicationId, from: 'scoring', stage: 'approval', maxAttempts: MAX_ATTEMPTS[EVENT.approval], actor: WORKER_ACTORS.approval,
    }, ctx, () => decideApproval(env.deps, p, ctx)),
  };
}
