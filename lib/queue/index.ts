// The durable events queue: publish (optionally inside a transaction), workers with leases,
// retries with backoff, one give-up hook per job type, dead letters, per-type pause, statistics.
export type {
  EventState,
  EventDoc,
  EventError,
  GiveUpReason,
  GiveUpInfo,
  JobContext,
  JobDefinition,
  WorkerOptions,
  WorkerHandle,
  BackoffOptions,
} from './types.js';
export {
  eventsCollection,
  controlsCollection,
  ensureQueueIndexes,
  EVENT_INDEXES,
  CLAIM_INDEX,
  CLAIM_INDEX_KEY,
  type QueueControlDoc,
} from './collection.js';
export { type Publication, type PublishOptions, publish, publishAll, publishMany } from './publish.js';
export { DEFAULT_MAX_ATTEMPTS } from './give-up.js';
export { PermanentError, LeaseLostError, RescheduleError } from './errors.js';
export { backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
export { claimOne, claimFilter, CLAIM_SORT } from './claim.js';
export { claimMode, SHORT_BACKLOG } from './claim-rule.js';
export { renewLease, completeEvent, retryEvent, rescheduleEvent, releaseEvent, type Claimed } from './settle.js';
export {
  startWorker,
  WorkerStoppingError,
  DEFAULT_LEASE_MS,
  DEFAULT_POLL_MS,
  DEFAULT_RETENTION_MS,
  MAX_CLAIM_BATCH,
  STOP_CLAIM_WAIT_MS,
} from './worker.js';
export { queueStats, ACTIVE_STATS_PIPELINE, COMPLETED_RECOVERIES_PIPELINE, type QueueStats, type TypeStats } from './stats.js';
export { groupBacklog, backlogFilter, backlogLoad, EMPTY_BACKLOG, type Backlog } from './backlog.js';
export { pauseType, resumeType, pausedTypes } from './controls.js';
export {
  listDeadLetters,
  retryDeadLetter,
  retryDeadLetters,
  requeueDeadLetters,
  deadLetterIds,
  purgeDeadLetters,
  deadLetterPayloadValues,
} from './dead-letters.js';
