// What every job handler of a worker process shares: the domain deps and the worker settings.
import type { Db } from 'mongodb';
import type { WorkerConfig } from '../../lib/config.js';
import type { Deps } from '../../lib/domain/applications/context.js';
import type { Status } from '../../lib/domain/applications/status.js';
import { markFailed } from '../../lib/domain/pipeline/mark-failed.js';
import type { PaymentGateway } from '../../lib/domain/pipeline/payment-gateway.js';
import { PermanentError, type JobContext } from '../../lib/queue/index.js';

export interface JobEnv { deps: Deps; db: Db; cfg: WorkerConfig; gateway?: PaymentGateway | undefined }

/**
 * The job-failure policy for stages that must not hang: when the handler gives up for good (a
 * PermanentError or the last attempt), the application moves from `from` to `failed`, then the
 * error goes on to the queue, which dead-letters it.
 */
export async function failStageOnGiveUp<T>(
  env: JobEnv, a: { applicationId: string; from: Status; stage: string; maxAttempts: number; actor: { id: string; email: string } },
  ctx: JobContext, fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const givingUp = e instanceof PermanentError || ctx.attempt >= a.maxAttempts;
    if (givingUp && !ctx.signal.aborted) {
      await markFailed(env.deps, a.applicationId, a.from, a.stage, e instanceof Error ? e.message : String(e), a.actor)
        .catch((err: unknown) => ctx.log.error({ err }, 'could not mark the application failed'));
    }
    throw e;
  }
}
