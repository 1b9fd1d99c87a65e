// The event types each worker role handles, without loading the job modules: the autoscaler in the
// launcher (scripts/stack/autoscaler.ts) and the workers' queue_role_backlog gauge size a role from
// the backlog of exactly these types. roles.ts's jobsFor(role) builds the jobs of the same types.
import type { WorkerRole } from '../lib/config.js';
import { EVENT } from '../lib/domain/pipeline/events.js';

export const ROLE_EVENT_TYPES: Readonly<Record<WorkerRole, readonly string[]>> = {
  ocr: [EVENT.ocr],
  approval: [EVENT.approval],
  disbursement: [EVENT.disbursement],
};
