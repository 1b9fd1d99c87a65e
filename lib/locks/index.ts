// Lease locks with owner tokens and fencing numbers (see lease.ts, with-lock.ts).
export { acquire, renew, release, listLocks, type Lease } from './lease.js';
export { withLock } from './with-lock.js';
export { LockUnavailableError, StaleFenceError } from './errors.js';
export { registerLockMetrics } from './metrics.js';
export { locksCollection, ensureLockIndexes, LOCKS, type LockDoc } from './collection.js';
