// When a pipeline job gives up (a permanent error or its last attempt), the application moves to
// `failed` with the reason, so it does not sit in a transient state forever; a reviewer can send
// it back to `submitted`. Disbursement never uses this: money may have moved, so a stuck
// disbursement stays `disbursing` and its dead letter is retried by an operator.
import { updateWithRetry } from '../applications/commands.js';
import type { Deps } from '../applications/context.js';
import type { Status } from '../applications/status.js';
import { withPipelineHooks } from './hooks.js';

export async function markFailed(
  deps: Deps, applicationId: string, from: Status, stage: string, reason: string, actor: { id: string; email: string },
): Promise<void> {
  await updateWithRetry(withPipelineHooks(deps), applicationId, (doc) => doc.status === from
    ? { status: 'failed', failure: { stage, reason: reason.slice(0, 500), at: new Date() } }
    : null, { actor });
}
